package rds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/template"
)

// Modes.
const (
	modeInsert = "insert"
	modeUpsert = "upsert"
	modeSQL    = "sql"
	modeCDC    = "cdc"
)

// Schema evolution settings.
const (
	evolveNone  = "none"
	evolveBasic = "basic"
)

var tableParam = template.ParamSpec{
	Name:        "table",
	Description: "Target table in database: required for insert and upsert; in cdc mode the source table's name when unset.",
}

var spec = append(api.Spec{
	{Name: "hostname", Type: api.TypeString, Required: true,
		Description: "MySQL or RDS for MySQL host name."},
	{Name: "port", Type: api.TypeInt, Default: "3306", Check: api.Range(1, 65535),
		Description: "Server port."},
	{Name: "user", Type: api.TypeString, Required: true,
		Description: "User name."},
	{Name: "password", Type: api.TypeString, Secret: true,
		Description: "Password."},
	{Name: "database", Type: api.TypeString, Required: true,
		Description: "Target database (schema)."},
	{Name: "tls", Type: api.TypeString, Default: "false", Enum: []string{"false", "true", "skip-verify", "preferred"},
		Description: "TLS to the server: false, true (verified), skip-verify or preferred (TLS when the server offers it)."},
	{Name: "mode", Type: api.TypeString, Default: modeInsert, Enum: []string{modeInsert, modeUpsert, modeSQL, modeCDC},
		Description: "insert or upsert rows mapped by columns; run the custom sql per event; or apply Debezium change events (cdc)."},
	{Name: "columns", Type: api.TypeJSON,
		Description: `insert and upsert: JSON object of column to value: "$.data.x" (a JSONPath), any other string (a constant), or {"form":"JSONPATH|CONSTANT|TEMPLATE|ORIGINAL","value":…,"template":…}.`},
	{Name: "sql", Type: api.TypeString,
		Description: "sql mode: one statement with :name placeholders, bound from the event as parameters (never spliced into the text)."},
	{Name: "sql.params", Type: api.TypeJSON,
		Description: "sql mode: JSON object of placeholder name to value, written as in columns."},
	{Name: "exactly.once", Type: api.TypeBool, Default: "false",
		Description: "Store each partition's position in exactly.once.table in the same transaction as the rows."},
	{Name: "exactly.once.table", Type: api.TypeString, Default: "ferry_offsets",
		Description: "Table of stored positions (created when missing) for exactly.once."},
	{Name: "schema.evolution", Type: api.TypeString, Default: evolveBasic, Enum: []string{evolveNone, evolveBasic},
		Description: "cdc mode: basic adds columns the change events carry and the target lacks; none rejects such records."},
	{Name: "parallelism", Type: api.TypeInt, Default: "1", Check: api.Range(1, 64),
		Description: "cdc: transactions applied at once per write, records partitioned by primary key so each key keeps its order. Must be 1 with exactly.once."},
	{Name: "pool.size", Type: api.TypeInt, Default: "4", Check: api.Range(1, 1024),
		Description: "Most open connections."},
	{Name: "batch.size", Type: api.TypeInt, Default: "500", Check: api.Range(1, 65535),
		Description: "Most rows in one INSERT or DELETE statement."},
	{Name: "connect.timeout", Type: api.TypeDuration, Default: "10s",
		Description: "Dial timeout."},
}, tableParam.Fields()...)

// settings is the sink's parsed configuration.
type settings struct {
	host, user, password, database, tls string
	port                                int
	mode                                string
	table                               *template.Param
	columns                             []column // insert, upsert
	sql                                 string   // sql mode, with ? placeholders
	params                              []column // sql mode, one per placeholder
	exactlyOnce                         bool
	offsetsTable                        string
	evolve                              bool
	parallelism                         int
	poolSize                            int
	batchSize                           int
	connectTimeout                      int64 // nanoseconds
}

func parseSettings(c api.Config) (*settings, error) {
	s := &settings{
		host:           c.String("hostname"),
		port:           c.Int("port"),
		user:           c.String("user"),
		password:       c.String("password"),
		database:       c.String("database"),
		tls:            c.String("tls"),
		mode:           c.String("mode"),
		exactlyOnce:    c.Bool("exactly.once"),
		offsetsTable:   c.String("exactly.once.table"),
		evolve:         c.String("schema.evolution") != evolveNone,
		parallelism:    max(c.Int("parallelism"), 1),
		poolSize:       max(c.Int("pool.size"), 1),
		batchSize:      max(c.Int("batch.size"), 1),
		connectTimeout: int64(c.Duration("connect.timeout")),
	}
	var errs []api.FieldError
	fail := func(field, msg string) { errs = append(errs, api.FieldError{Field: field, Message: msg}) }
	unused := func(field string) {
		if c.Has(field) {
			fail(field, "is not used with mode="+s.mode)
		}
	}
	table, err := tableParam.Compile(c)
	if err != nil {
		var ve *api.ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		errs = append(errs, ve.Fields...)
	}
	s.table = table
	tableSet := table != nil && table.IsSet()
	if err := checkName(s.offsetsTable); err != nil {
		fail("exactly.once.table", err.Error())
	}
	if s.exactlyOnce && s.parallelism > 1 {
		fail("parallelism", "must be 1 with exactly.once, which commits each write in one transaction")
	}
	switch s.mode {
	case modeInsert, modeUpsert:
		if table != nil && !tableSet {
			fail("table", "is required with mode="+s.mode+": set table or table.form")
		}
		if !c.Has("columns") {
			fail("columns", "is required with mode="+s.mode)
		} else if s.columns, err = parseColumns(c.String("columns")); err != nil {
			fail("columns", err.Error())
		}
		unused("sql")
		unused("sql.params")
	case modeSQL:
		if !c.Has("sql") || strings.TrimSpace(c.String("sql")) == "" {
			fail("sql", "is required with mode=sql")
			break
		}
		q, names, err := parseNamed(c.String("sql"))
		if err != nil {
			fail("sql", err.Error())
			break
		}
		s.sql = q
		var byName map[string]column
		if c.Has("sql.params") {
			cols, err := parseColumns(c.String("sql.params"))
			if err != nil {
				fail("sql.params", err.Error())
				break
			}
			byName = make(map[string]column, len(cols))
			for _, col := range cols {
				byName[col.name] = col
			}
		}
		var missing []string
		for _, n := range names {
			col, ok := byName[n]
			if !ok {
				if !slices.Contains(missing, n) {
					missing = append(missing, n)
				}
				continue
			}
			s.params = append(s.params, col)
		}
		if missing != nil {
			fail("sql.params", "has no value for placeholder :"+strings.Join(missing, ", :"))
		}
		for n := range byName {
			if !slices.Contains(names, n) {
				fail("sql.params", fmt.Sprintf("names %q, which the sql does not use", n))
				break
			}
		}
		if tableSet {
			fail("table", "is not used with mode=sql")
		}
		unused("columns")
	case modeCDC:
		unused("columns")
		unused("sql")
		unused("sql.params")
	}
	if errs != nil {
		slices.SortStableFunc(errs, func(a, b api.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return nil, &api.ValidationError{Fields: errs}
	}
	return s, nil
}

// validate is the plugin's cross-field check.
func validate(c api.Config) error {
	_, err := parseSettings(c)
	return err
}

// column is one mapped value: a column of insert/upsert or a placeholder of
// sql mode.
type column struct {
	name string
	// path is set for a plain JSONPath, rendered with the other paths in
	// one pass; otherwise t renders the value as text.
	path string
	t    *template.Template
}

// valueSpec is the object form of a mapped value.
type valueSpec struct {
	Form     string          `json:"form"`
	Value    json.RawMessage `json:"value"`
	Template string          `json:"template"`
}

// parseColumns reads a JSON object of name → value spec, sorted by name so
// statements are the same for every record.
func parseColumns(src string) ([]column, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(src), &raw); err != nil {
		return nil, fmt.Errorf("must be a JSON object of name to value: %v", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("must name at least one column")
	}
	out := make([]column, 0, len(raw))
	for name, v := range raw {
		col, err := parseColumn(name, v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		out = append(out, col)
	}
	slices.SortFunc(out, func(a, b column) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func parseColumn(name string, v json.RawMessage) (column, error) {
	if name == "" {
		return column{}, errors.New("empty name")
	}
	col := column{name: name}
	var str string
	if json.Unmarshal(v, &str) == nil {
		if strings.HasPrefix(str, "$") {
			if _, err := template.Compile(template.JSONPath, str, ""); err != nil {
				return column{}, err
			}
			col.path = str
			return col, nil
		}
		col.t = template.MustCompile(template.Constant, str, "")
		return col, nil
	}
	var vs valueSpec
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vs); err != nil {
		return column{}, errors.New(`must be a string or an object {"form","value","template"}`)
	}
	value := ""
	if len(vs.Value) > 0 {
		if json.Unmarshal(vs.Value, &value) != nil {
			// A TEMPLATE's variables may be given as an object.
			value = string(vs.Value)
		}
	}
	if vs.Form == template.JSONPath {
		if _, err := template.Compile(template.JSONPath, value, ""); err != nil {
			return column{}, err
		}
		col.path = value
		return col, nil
	}
	t, err := template.Compile(vs.Form, value, vs.Template)
	if err != nil {
		return column{}, err
	}
	col.t = t
	return col, nil
}

// pathTemplate compiles the JSONPath columns into one JSON template,
// [${c0},${c1},…], so each record's data is scanned once and every value
// keeps its JSON type (null stays distinct from an empty string).
func pathTemplate(cols []column) (*template.Template, error) {
	vars := map[string]string{}
	var tmpl strings.Builder
	tmpl.WriteByte('[')
	n := 0
	for _, c := range cols {
		if c.path == "" {
			continue
		}
		if n > 0 {
			tmpl.WriteByte(',')
		}
		v := "c" + strconv.Itoa(n)
		vars[v] = c.path
		tmpl.WriteString("${" + v + "}")
		n++
	}
	if n == 0 {
		return nil, nil
	}
	tmpl.WriteByte(']')
	vj, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	return template.Compile(template.Tmpl, string(vj), tmpl.String())
}

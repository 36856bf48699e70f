package api_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// counterSpec declares the counter source's settings once; parsing,
// validation, the REST validate endpoint and docs all come from it.
var counterSpec = api.Spec{
	{Name: "count", Type: api.TypeInt, Default: "5", Check: api.Range(1, 1e6),
		Description: "How many events to emit before the input ends."},
}

// Counter is the whole plugin: the engine finds it by Name.
var Counter = api.SourcePlugin{
	Name:    "counter",
	Summary: "Counts from 0 to count-1.",
	Spec:    counterSpec,
	New:     newCounter,
}

type counter struct {
	connector string
	next, end int
}

func newCounter(tc api.TaskConfig) (api.Source, error) {
	c := &counter{connector: tc.Connector, end: tc.Config.Int("count")}
	// Resume after the last committed position of our one partition.
	if pos, ok := tc.Committed["numbers"]; ok {
		n, err := strconv.Atoi(string(pos))
		if err != nil {
			return nil, api.Fatal(fmt.Errorf("counter: bad committed position %q", pos))
		}
		c.next = n + 1
	}
	return c, nil
}

func (c *counter) Open(context.Context) error { return nil }

func (c *counter) Read(ctx context.Context) ([]api.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.next >= c.end {
		return nil, api.ErrEndOfInput
	}
	// Two records per Read, to show batches.
	var out []api.Record
	for ; c.next < c.end && len(out) < 2; c.next++ {
		n := strconv.Itoa(c.next)
		out = append(out, api.Record{
			Event: api.Event{
				// The id derives from the position, so a replay keeps it.
				ID:              c.connector + "-" + n,
				Source:          "/example/counter",
				SpecVersion:     api.SpecVersion,
				Type:            "example.counter.v1",
				DataContentType: "application/json",
				Data:            []byte(`{"n":` + n + `}`),
			},
			Partition: "numbers",
			Position:  api.Position(n), // human-readable: shown by the REST API
		})
	}
	return out, nil
}

func (c *counter) Close(context.Context) error { return nil }

// A source emits records with a partition and a position, and resumes
// after the committed position it is given. Here the task restarts after
// position 1 was committed, so it continues with 2.
func Example_source() {
	cfg, err := Counter.Spec.Parse(map[string]string{"count": "5"})
	if err != nil {
		fmt.Println(err)
		return
	}
	src, err := Counter.New(api.TaskConfig{
		Connector: "demo", Config: cfg,
		Committed: map[string]api.Position{"numbers": api.Position("1")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := src.Open(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close(ctx)
	for {
		batch, err := src.Read(ctx)
		if errors.Is(err, api.ErrEndOfInput) {
			fmt.Println("end of input")
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range batch {
			fmt.Printf("%s at %s/%s: %s\n", r.Event.ID, r.Partition, r.Position, r.Event.Data)
		}
	}
	// Output:
	// demo-2 at numbers/2: {"n":2}
	// demo-3 at numbers/3: {"n":3}
	// demo-4 at numbers/4: {"n":4}
	// end of input
}

// collector is a buffering sink: Write only stages records; Flush makes
// them durable. Because it is an api.Flusher, the engine acknowledges
// records (and commits their positions) only after a Flush succeeds.
type collector struct {
	staged []api.Event
	stored []api.Event // stands in for the external system
}

var Collector = api.SinkPlugin{
	Name:    "collector",
	Summary: "Keeps events in memory.",
	Spec:    api.Spec{},
	New:     func(api.TaskConfig) (api.Sink, error) { return &collector{}, nil },
}

func (c *collector) Open(context.Context) error { return nil }

func (c *collector) Write(_ context.Context, records []api.Record) error {
	var bad api.RecordErrors
	for i, r := range records {
		if r.Event.Type == "" {
			// Reject one record without failing the batch: the engine
			// sends it to the dead-letter sink or stops, as configured.
			bad = append(bad, api.RecordError{Index: i, Err: api.Fatal(errors.New("event has no type"))})
			continue
		}
		c.staged = append(c.staged, r.Event)
	}
	if bad != nil {
		return &bad
	}
	return nil
}

func (c *collector) Flush(context.Context) error {
	c.stored = append(c.stored, c.staged...)
	c.staged = c.staged[:0]
	return nil
}

func (c *collector) Close(ctx context.Context) error { return c.Flush(ctx) }

// A sink writes batches; a buffering sink also implements api.Flusher,
// and can reject single records with api.RecordErrors.
func Example_sink() {
	s, _ := Collector.New(api.TaskConfig{Connector: "demo"})
	ctx := context.Background()
	if err := s.Open(ctx); err != nil {
		fmt.Println(err)
		return
	}
	batch := []api.Record{
		{Event: api.Event{ID: "a", Source: "/x", Type: "t"}},
		{Event: api.Event{ID: "b", Source: "/x"}}, // no type: rejected
		{Event: api.Event{ID: "c", Source: "/x", Type: "t"}},
	}
	err := s.Write(ctx, batch)
	var re *api.RecordErrors
	if errors.As(err, &re) {
		for _, e := range *re {
			fmt.Printf("record %d rejected: %v (fatal: %v)\n", e.Index, e.Err, api.IsFatal(e.Err))
		}
	}
	c := s.(*collector)
	fmt.Println("stored before flush:", len(c.stored))
	if f, ok := s.(api.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, e := range c.stored {
		fmt.Println("stored", e.ID)
	}
	_ = s.Close(ctx)
	// Output:
	// record 1 rejected: event has no type (fatal: true)
	// stored before flush: 0
	// stored a
	// stored c
}

// A Prefix field declares a family of keys, such as the headers a sink
// adds: each value is checked, and keys outside every field stay unknown
// to Lookup.
func ExampleField_prefix() {
	spec := api.Spec{
		{Name: "url", Type: api.TypeString, Required: true},
		{Name: "headers.", Prefix: true, Type: api.TypeString, Check: api.Range(0, 0)},
	}
	_, err := spec.Parse(map[string]string{"url": "http://x", "headers.X-Team": "1"})
	fmt.Println(err)
	_, ok := spec.Lookup("headers.X-Team")
	_, bare := spec.Lookup("headers.")
	fmt.Println(ok, bare)
	// Output:
	// invalid configuration: headers.X-Team: must be between 0 and 0
	// true false
}

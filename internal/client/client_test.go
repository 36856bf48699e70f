package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/internal/client"
)

// seen is one request as the server received it.
type seen struct {
	method, path, query, contentType, body string
}

// server answers every request with status and body and records it.
func server(t *testing.T, status int, body string) (*httptest.Server, func() seen) {
	t.Helper()
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Content-Type"), string(b)}
		mu.Unlock()
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() seen { mu.Lock(); defer mu.Unlock(); return last }
}

func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8083", true},
		{"127.0.0.1:8083", true},
		{"https://ferry.example/api/", true},
		{" http://h:1 ", true},
		{"ftp://h", false},
		{"http://", false},
		{"http://h?x=1", false},
		{"http://h#frag", false},
		{"http://h:port", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := client.New(tt.url)
			if (err == nil) != tt.ok {
				t.Errorf("New(%q) err = %v, want ok=%v", tt.url, err, tt.ok)
			}
		})
	}
}

// TestRequests checks each method's route, query and body.
func TestRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := func(v string) *string { return &v }
	tests := []struct {
		name   string
		status int
		reply  string
		call   func(c *client.Client) error
		want   seen
	}{
		{"Connectors", 200, `["a"]`, func(c *client.Client) error { _, err := c.Connectors(ctx); return err },
			seen{method: "GET", path: "/connectors"}},
		{"ConnectorsExpanded", 200, `{}`, func(c *client.Client) error {
			_, err := c.ConnectorsExpanded(ctx, "status", "info")
			return err
		}, seen{method: "GET", path: "/connectors", query: "expand=status&expand=info"}},
		{"CreateConnector", 201, `{"name":"a"}`, func(c *client.Client) error {
			_, err := c.CreateConnector(ctx, client.CreateRequest{Name: "a", Config: map[string]string{"k": "v"}, InitialState: "PAUSED"})
			return err
		}, seen{method: "POST", path: "/connectors", contentType: "application/json",
			body: `{"name":"a","config":{"k":"v"},"initial_state":"PAUSED"}`}},
		{"escaped name", 200, `{}`, func(c *client.Client) error { _, err := c.Status(ctx, "a/b c?#"); return err },
			seen{method: "GET", path: "/connectors/a%2Fb%20c%3F%23/status"}},
		{"DeleteConnector", 204, ``, func(c *client.Client) error { return c.DeleteConnector(ctx, "a") },
			seen{method: "DELETE", path: "/connectors/a"}},
		{"PatchConfig", 200, `{}`, func(c *client.Client) error {
			_, err := c.PatchConfig(ctx, "a", map[string]*string{"drop": nil, "set": s("1")})
			return err
		}, seen{method: "PATCH", path: "/connectors/a/config", contentType: "application/json", body: `{"drop":null,"set":"1"}`}},
		{"TaskStatus", 200, `{}`, func(c *client.Client) error { _, err := c.TaskStatus(ctx, "a", 3); return err },
			seen{method: "GET", path: "/connectors/a/tasks/3/status"}},
		{"Tasks", 200, `[]`, func(c *client.Client) error { _, err := c.Tasks(ctx, "a"); return err },
			seen{method: "GET", path: "/connectors/a/tasks"}},
		{"RestartTask", 204, ``, func(c *client.Client) error { return c.RestartTask(ctx, "a", 0) },
			seen{method: "POST", path: "/connectors/a/tasks/0/restart"}},
		{"RestartConnector flags", 202, `{}`, func(c *client.Client) error {
			_, err := c.RestartConnector(ctx, "a", true, true)
			return err
		}, seen{method: "POST", path: "/connectors/a/restart", query: "includeTasks=true&onlyFailed=true"}},
		{"Pause", 202, ``, func(c *client.Client) error { return c.Pause(ctx, "a") }, seen{method: "PUT", path: "/connectors/a/pause"}},
		{"Resume", 202, ``, func(c *client.Client) error { return c.Resume(ctx, "a") }, seen{method: "PUT", path: "/connectors/a/resume"}},
		{"Stop", 204, ``, func(c *client.Client) error { return c.Stop(ctx, "a") }, seen{method: "PUT", path: "/connectors/a/stop"}},
		{"AlterOffsets", 200, `{"message":"ok"}`, func(c *client.Client) error {
			_, err := c.AlterOffsets(ctx, "a", client.ConnectorOffsets{Offsets: []client.PartitionOffset{
				{Partition: map[string]string{"partition": "p"}}}})
			return err
		}, seen{method: "PATCH", path: "/connectors/a/offsets", contentType: "application/json",
			body: `{"offsets":[{"partition":{"partition":"p"},"offset":null}]}`}},
		{"ResetOffsets", 200, `{"message":"ok"}`, func(c *client.Client) error { _, err := c.ResetOffsets(ctx, "a"); return err },
			seen{method: "DELETE", path: "/connectors/a/offsets"}},
		{"Plugins", 200, `[]`, func(c *client.Client) error { _, err := c.Plugins(ctx); return err },
			seen{method: "GET", path: "/connector-plugins", query: "connectorsOnly=false"}},
		{"PluginConfig", 200, `[]`, func(c *client.Client) error { _, err := c.PluginConfig(ctx, "mysql-cdc"); return err },
			seen{method: "GET", path: "/connector-plugins/mysql-cdc/config"}},
		{"Validate", 200, `{}`, func(c *client.Client) error {
			_, err := c.Validate(ctx, "generator", map[string]string{"source": "generator"})
			return err
		}, seen{method: "PUT", path: "/connector-plugins/generator/config/validate", contentType: "application/json",
			body: `{"source":"generator"}`}},
		{"PreviewTransforms", 200, `{"results":[]}`, func(c *client.Client) error {
			_, err := c.PreviewTransforms(ctx, map[string]string{"transforms": "a"}, []json.RawMessage{json.RawMessage(`{"id":"1"}`)})
			return err
		}, seen{method: "POST", path: "/transforms/preview", contentType: "application/json",
			body: `{"config":{"transforms":"a"},"events":[{"id":"1"}]}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, last := server(t, tt.status, tt.reply)
			if err := tt.call(newClient(t, srv.URL)); err != nil {
				t.Fatal(err)
			}
			if got := last(); got != tt.want {
				t.Errorf("request = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBasePathPrefix(t *testing.T) {
	t.Parallel()
	srv, last := server(t, 200, `[]`)
	if _, err := newClient(t, srv.URL+"/ferry/").Connectors(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := last().path; got != "/ferry/connectors" {
		t.Errorf("path = %s, want /ferry/connectors", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		wantMsg   string
		wantCode  int
		notFound  bool
		conflict  bool
		errString string
	}{
		{"kafka connect json", 404, `{"error_code":404,"message":"Connector x not found"}`, "Connector x not found", 404, true, false,
			"error (HTTP 404): Connector x not found"},
		{"conflict", 409, `{"error_code":409,"message":"rebalancing"}`, "rebalancing", 409, false, true, "error (HTTP 409): rebalancing"},
		{"html", 502, "<html>bad gateway</html>\n", "<html>bad gateway</html>", 0, false, false, "error (HTTP 502): <html>bad gateway</html>"},
		{"empty", 500, "", "Internal Server Error", 0, false, false, "error (HTTP 500): Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := server(t, tt.status, tt.body)
			_, err := newClient(t, srv.URL).Connector(context.Background(), "x")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *client.Error", err, err)
			}
			if e.StatusCode != tt.status || e.Code != tt.wantCode || e.Message != tt.wantMsg {
				t.Errorf("Error = %+v", e)
			}
			if err.Error() != tt.errString {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.errString)
			}
			if client.IsNotFound(err) != tt.notFound || client.IsConflict(err) != tt.conflict {
				t.Errorf("IsNotFound = %v, IsConflict = %v", client.IsNotFound(err), client.IsConflict(err))
			}
		})
	}
}

func TestPutConfigCreated(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status  int
		created bool
	}{{201, true}, {200, false}} {
		srv, _ := server(t, tt.status, `{"name":"a","config":{"k":"v"},"tasks":[],"type":"source"}`)
		info, created, err := newClient(t, srv.URL).PutConfig(context.Background(), "a", map[string]string{"k": "v"})
		if err != nil || created != tt.created || info.Config["k"] != "v" {
			t.Errorf("HTTP %d: info %+v, created %v, err %v", tt.status, info, created, err)
		}
	}
}

func TestRestartWithoutBody(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, 204, "")
	st, err := newClient(t, srv.URL).RestartConnector(context.Background(), "a", false, false)
	if err != nil || st != nil {
		t.Errorf("status %+v, err %v; want nil, nil for 204", st, err)
	}
	srv, _ = server(t, 202, `{"name":"a","connector":{"state":"RESTARTING","worker_id":"w"},"tasks":[],"type":"source"}`)
	st, err = newClient(t, srv.URL).RestartConnector(context.Background(), "a", true, false)
	if err != nil || st == nil || st.Connector.State != "RESTARTING" {
		t.Errorf("status %+v, err %v", st, err)
	}
}

func TestResponseHook(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, 404, `{"error_code":404,"message":"nope"}`)
	var got []string
	c := newClient(t, srv.URL, client.WithResponseHook(func(method, path string, status int, body []byte) {
		got = append(got, method+" "+path+" "+http.StatusText(status)+" "+string(body))
	}))
	_, _ = c.ConnectorsExpanded(context.Background(), "status")
	want := `GET /connectors?expand=status Not Found {"error_code":404,"message":"nope"}`
	if len(got) != 1 || got[0] != want {
		t.Errorf("hook saw %q, want [%q]", got, want)
	}
}

func TestBadResponse(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, 200, `{"name":`)
	_, err := newClient(t, srv.URL).Connector(context.Background(), "a")
	if err == nil || !strings.Contains(err.Error(), "decode response") {
		t.Errorf("err = %v, want a decode error", err)
	}
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, 200, `[]`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newClient(t, srv.URL).Connectors(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestPreviewTransformsResults(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, 200, `{"results":[{"dropped":true,"dropped_by":"f","events":[],"error":""},{"dropped":false,"dropped_by":"","events":[{"specversion":"1.0","id":"2"}],"error":""}]}`)
	res, err := newClient(t, srv.URL).PreviewTransforms(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Dropped || res[0].DroppedBy != "f" || len(res[1].Events) != 1 || string(res[1].Events[0]) != `{"specversion":"1.0","id":"2"}` {
		t.Errorf("results = %+v", res)
	}
	srv, _ = server(t, 400, `{"error_code":400,"message":"events[0]: bad"}`)
	if _, err := newClient(t, srv.URL).PreviewTransforms(context.Background(), nil, nil); err == nil || err.Error() != "error (HTTP 400): events[0]: bad" {
		t.Errorf("err = %v", err)
	}
}

package alicloud_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		check func(string) error
		v     string
		ok    bool
	}{
		{"host:port", alicloud.CheckHostPort, "127.0.0.1:18001", true},
		{"no port", alicloud.CheckHostPort, "localhost", false},
		{"empty port", alicloud.CheckHostPort, "localhost:", false},
		{"no host", alicloud.CheckHostPort, ":80", false},
		{"too long", alicloud.CheckHostPort, strings.Repeat("h", 400) + ":80", false},
		{"region", alicloud.CheckRegion, "cn-hangzhou", true},
		{"region upper", alicloud.CheckRegion, "CN-hangzhou", false},
		{"region empty", alicloud.CheckRegion, "", false},
		{"region long", alicloud.CheckRegion, strings.Repeat("a", 65), false},
		{"region slash", alicloud.CheckRegion, "cn/../x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.check(tc.v)
			if (err == nil) != tc.ok {
				t.Fatalf("check(%q) = %v, want ok=%v", tc.v, err, tc.ok)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Fatalf("error quotes the whole hostile value: %d bytes", len(err.Error()))
			}
		})
	}
}

func spec() api.Spec {
	s := api.Spec{{Name: "endpoint", Type: api.TypeString, Required: true}}
	s = append(s, alicloud.KeyFields...)
	s = append(s, alicloud.SignatureFields...)
	return append(s, alicloud.RouteFields("10s")...)
}

func TestSettings(t *testing.T) {
	t.Parallel()
	c, err := spec().Parse(map[string]string{"endpoint": "example.com/", "access.key.id": "id", "access.key.secret": "s",
		"security.token": "tok", "signature.version": "v4", "region": "cn-beijing", "connect.address": "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	got := alicloud.SettingsOf(c)
	want := alicloud.Settings{Endpoint: "example.com", Credentials: alicloud.Credentials{KeyID: "id", Secret: "s", Token: "tok"},
		SignV4: true, Region: "cn-beijing", Connect: "127.0.0.1:1", Timeout: 10 * time.Second}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if errs := alicloud.ValidateSignature(c); errs != nil {
		t.Fatalf("v4 with a region: %v", errs)
	}
	c, _ = spec().Parse(map[string]string{"endpoint": "e", "access.key.id": "id", "access.key.secret": "s", "signature.version": "v4"})
	if errs := alicloud.ValidateSignature(c); len(errs) != 1 || errs[0].Field != "region" {
		t.Fatalf("v4 without a region: %v, want one error naming region", errs)
	}
	for _, bad := range []map[string]string{
		{"signature.version": "v2"},
		{"request.timeout": "0s"},
		{"request.timeout": "1h"},
		{"access.key.secret": strings.Repeat("s", 300)},
		{"security.token": strings.Repeat("t", 9000)},
	} {
		raw := map[string]string{"endpoint": "e", "access.key.id": "id", "access.key.secret": "s"}
		for k, v := range bad {
			raw[k] = v
		}
		if _, err := spec().Parse(raw); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCodes(t *testing.T) {
	t.Parallel()
	codes := &alicloud.Codes{
		Fatal:     map[string]string{"Denied": "fix the key"},
		Record:    map[string]bool{"Bad": true},
		Quota:     map[string]bool{"Slow": true},
		QuotaWait: time.Second,
	}
	type coded struct{ error }
	codeOf := func(err error) string {
		var c coded
		if errors.As(err, &c) {
			return c.Error()
		}
		return ""
	}
	tr := codes.Triage(codeOf)
	for _, tc := range []struct {
		code  string
		class kit.Class
		wait  time.Duration
	}{
		{"Denied", kit.Fatal, 0},
		{"Bad", kit.RecordFault, 0},
		{"Slow", kit.Transient, time.Second},
		{"Other", kit.Transient, 0},
		{"", kit.Transient, 0},
	} {
		err := coded{errors.New(tc.code)}
		if got := tr.Classify(err); got != tc.class {
			t.Errorf("%q: class %v, want %v", tc.code, got, tc.class)
		}
		if got := tr.RetryAfter(err); got != tc.wait {
			t.Errorf("%q: wait %v, want %v", tc.code, got, tc.wait)
		}
	}
	err := codes.Explain("Denied", errors.New("Denied"))
	if err.Error() != "fix the key: Denied" {
		t.Fatalf("explain: %v", err)
	}
	if err := codes.Explain("Bad", errors.New("x")); err.Error() != "x" {
		t.Fatalf("explain of a non-fatal code changed it: %v", err)
	}
}

func TestCallContext(t *testing.T) {
	t.Parallel()
	var c alicloud.CallContext
	if c.Get() != nil {
		t.Fatal("zero CallContext has a ctx")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Use(ctx)
	if c.Get() != ctx {
		t.Fatal("Get does not return the ctx Use set")
	}
	c.Release()
	if c.Get() != nil {
		t.Fatal("Release left a ctx")
	}
}

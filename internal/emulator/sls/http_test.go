package sls

import "testing"

func TestProjectFromHost(t *testing.T) {
	t.Parallel()
	tests := []struct{ host, want string }{
		{"proj.127.0.0.1:18001", "proj"},
		{"my-proj.127.0.0.1", "my-proj"},
		{"proj.localhost:80", "proj"},
		{"proj.cn-hangzhou.log.aliyuncs.com", "proj"},
		{"127.0.0.1:18001", ""},
		{"[::1]:18001", ""},
		{"localhost:18001", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			if got := projectFromHost(tt.host); got != tt.want {
				t.Fatalf("projectFromHost(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}

func TestNormalizeHashKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ABCDEF", "abcdef00000000000000000000000000", true},
		{"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", true},
		{"", "", false},
		{"xyz", "", false},
		{"0123456789abcdef0123456789abcdef0", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeHashKey(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Fatalf("normalizeHashKey(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkDecodeLogGroup(b *testing.B) {
	g := sampleGroup()
	for range 50 {
		g.Logs = append(g.Logs, g.Logs[0])
	}
	raw := AppendLogGroup(nil, g)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeLogGroup(raw); err != nil {
			b.Fatal(err)
		}
	}
}

package api

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestParseTime takes each form of time the EventBridge references emit
// or accept (the source of each is named) and hostile ones.
func TestParseTime(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skipf("no time-zone database: %v", err)
	}
	utc := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	for _, tc := range []struct {
		name, in string
		want     time.Time
		wantErr  string // substring; "" means success
	}{
		// RFC 3339, as CloudEvents requires.
		{name: "Alibaba event overview", in: "2020-11-19T21:04:41+08:00", want: utc(2020, 11, 19, 13, 4, 41, 0)},
		{name: "Alibaba scheduled event", in: "2022-09-21T05:00:00Z", want: utc(2022, 9, 21, 5, 0, 0, 0)},
		{name: "Alibaba aliyunpublishtime (Z)", in: "2022-09-21T05:00:00.035Z", want: utc(2022, 9, 21, 5, 0, 0, 35e6)},
		{name: "negative offset, nanoseconds", in: "2024-02-29T23:59:59.123456789-05:30", want: utc(2024, 3, 1, 5, 29, 59, 123456789)},
		// Alibaba EventBridge's local date-time and region.
		{name: "Alibaba event transformation (region)", in: "2020-08-17T16:04:46.149Asia/Shanghai", want: time.Date(2020, 8, 17, 16, 4, 46, 149e6, shanghai)},
		{name: "Alibaba aliyunpublishtime (PRC)", in: "2020-11-19T21:04:42.179PRC", want: utc(2020, 11, 19, 13, 4, 42, 179e6)},
		{name: "region UTC, no fraction", in: "2020-11-19T21:04:42UTC", want: utc(2020, 11, 19, 21, 4, 42, 0)},
		// No zone: rocketmq-eventbridge PatternEvaluatorTest.
		{name: "rocketmq-eventbridge pattern test (no zone)", in: "2020-08-17T18:23:00", want: utc(2020, 8, 17, 18, 23, 0, 0)},
		{name: "no zone, no seconds", in: "2020-08-17T18:23", want: utc(2020, 8, 17, 18, 23, 0, 0)},
		// java.time ISO_OFFSET_DATE_TIME (the CloudEvents Java SDK).
		{name: "ISO offset, no seconds", in: "2020-11-19T21:04+08:00", want: utc(2020, 11, 19, 13, 4, 0, 0)},
		{name: "ISO offset with seconds", in: "2020-11-19T21:04:41+08:00:30", want: utc(2020, 11, 19, 13, 4, 11, 0)},
		{name: "ISO lower-case t and z", in: "2020-11-19t21:04:41.5z", want: utc(2020, 11, 19, 21, 4, 41, 5e8)},
		{name: "ISO offset +18:00", in: "2020-11-19T21:04:41+18:00", want: utc(2020, 11, 19, 3, 4, 41, 0)},
		// java.time ISO_ZONED_DATE_TIME (rocketmq-eventbridge's HTTP source).
		{name: "ISO zoned", in: "2020-11-19T21:04:41+08:00[Asia/Shanghai]", want: utc(2020, 11, 19, 13, 4, 41, 0)},
		{name: "ISO zoned Z", in: "2020-11-19T21:04:41Z[UTC]", want: utc(2020, 11, 19, 21, 4, 41, 0)},
		// Refused.
		{name: "epoch millis", in: "1615430559146", wantErr: "not an RFC 3339"},
		{name: "empty", in: "", wantErr: "not an RFC 3339"},
		{name: "words", in: "yesterday", wantErr: "not an RFC 3339"},
		{name: "date only", in: "2020-11-19", wantErr: "not an RFC 3339"},
		{name: "space for T", in: "2020-11-19 21:04:41Z", wantErr: "not an RFC 3339"},
		{name: "February 30", in: "2021-02-29T00:00:00", wantErr: "out of range"},
		{name: "hour 24", in: "2020-11-19T24:00:00+08:00", wantErr: "out of range"},
		{name: "second 60", in: "2020-11-19T23:59:60", wantErr: "out of range"},
		{name: "month 13", in: "2020-13-19T21:04:41PRC", wantErr: "out of range"},
		{name: "offset beyond 18h", in: "2020-11-19T21:04+18:01", wantErr: "out of range"},
		{name: "offset hours only", in: "2020-11-19T21:04:41+08", wantErr: "not an RFC 3339"},
		{name: "RFC 3339 with ten fraction digits (Go truncates)", in: "2020-11-19T21:04:41.1234567891Z", want: utc(2020, 11, 19, 21, 4, 41, 123456789)},
		{name: "ten fraction digits, region", in: "2020-11-19T21:04:41.1234567890PRC", wantErr: "not an RFC 3339"},
		{name: "empty fraction", in: "2020-11-19T21:04:41.PRC", wantErr: "not an RFC 3339"},
		{name: "fraction without seconds", in: "2020-11-19T21:04.5", wantErr: "unknown time zone"},
		{name: "unknown region", in: "2020-08-17T16:04:46.149Mars/Olympus", wantErr: "unknown time zone"},
		{name: "host's Local zone", in: "2020-08-17T16:04:46Local", wantErr: "unknown time zone"},
		{name: "path in the region", in: "2020-08-17T16:04:46Asia/../../etc/passwd", wantErr: "unknown time zone"},
		{name: "absolute path", in: "2020-08-17T16:04:46/etc/localtime", wantErr: "unknown time zone"},
		{name: "long region", in: "2020-08-17T16:04:46" + strings.Repeat("A", 65), wantErr: "unknown time zone"},
		{name: "zoned without bracket", in: "2020-11-19T21:04:41+08:00Asia/Shanghai", wantErr: "not an RFC 3339"},
		{name: "zoned unknown region", in: "2020-11-19T21:04:41+08:00[Nowhere]", wantErr: "unknown time zone"},
		{name: "zoned empty brackets", in: "2020-11-19T21:04:41+08:00[]", wantErr: "not an RFC 3339"},
		{name: "non-ASCII digits", in: "２020-11-19T21:04:41Z", wantErr: "not an RFC 3339"},
		{name: "signed year field", in: "+020-11-19T21:04:41Z", wantErr: "not an RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTime(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTime(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestUnmarshalJSONEventBridgeTime: the documented Alibaba event (the
// event transformation page's) decodes, with its instant.
func TestUnmarshalJSONEventBridgeTime(t *testing.T) {
	t.Parallel()
	doc := `{"id":"7adc8c1a-645d-4476-bdef-5d6fb57f****","source":"acs.oss","specversion":"1.0","type":"oss:ObjectCreated:PostObject",` +
		`"datacontenttype":"application/json","dataschema":"http://example.com/test.json","subject":"acs:oss:cn-hangzhou:1234567:xls-papk/game_apk/123.jpg",` +
		`"time":"2020-08-17T16:04:46.149Asia/Shanghai","aliyuneventbusname":"demo-bus","aliyunregionid":"Shanghai","data":{"name":"test","scope":100}}`
	var e Event
	if err := e.UnmarshalJSON([]byte(doc)); err != nil {
		if _, lerr := time.LoadLocation("Asia/Shanghai"); lerr != nil {
			t.Skipf("no time-zone database: %v", lerr)
		}
		t.Fatal(err)
	}
	if want := time.Date(2020, 8, 17, 8, 4, 46, 149e6, time.UTC); !e.Time.Equal(want) {
		t.Fatalf("time %v, want %v", e.Time, want)
	}
	if err := e.UnmarshalJSON([]byte(strings.Replace(doc, "Asia/Shanghai", "Asia/Nowhere", 1))); err == nil || !strings.Contains(err.Error(), `"time"`) {
		t.Fatalf("error %v, want one about the time attribute", err)
	}
}

// timeGrammar is the text ParseTime may accept, written apart from it.
var timeGrammar = regexp.MustCompile(`^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d(:\d\d([.,]\d{1,9})?)?` +
	`(|[Zz]|[Zz]\[[A-Za-z][A-Za-z0-9~/._+-]*\]|[+-]\d\d:\d\d(:\d\d)?(\[[A-Za-z][A-Za-z0-9~/._+-]*\])?|[A-Za-z][A-Za-z0-9~/._+-]*)$`)

// FuzzParseTime: ParseTime never panics, agrees with time.Parse on what
// RFC 3339 takes, and accepts nothing outside the grammar of the forms it
// documents.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2020-08-17T16:04:46.149Asia/Shanghai", "2020-11-19T21:04:42.179PRC", "2020-08-17T18:23:00",
		"2020-11-19T21:04+08:00", "2020-11-19T21:04:41+08:00[Asia/Shanghai]", "2020-11-19t21:04:41.5z", "1615430559146"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if want, werr := time.Parse(time.RFC3339Nano, s); werr == nil {
			if err != nil || !got.Equal(want) {
				t.Fatalf("ParseTime(%q) = %v, %v; time.Parse gives %v", s, got, err, want)
			}
			return
		}
		if err == nil && !timeGrammar.MatchString(s) {
			t.Fatalf("ParseTime(%q) accepted text outside its grammar: %v", s, got)
		}
	})
}

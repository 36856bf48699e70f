package mns

import (
	"encoding/xml"
	"testing"
)

// FuzzDecodeSend checks that any body either fails with a protocol error or
// yields messages that survive a round trip through the SDK's XML shape.
func FuzzDecodeSend(f *testing.F) {
	for _, s := range []string{
		"<Message><MessageBody>hello</MessageBody><DelaySeconds>0</DelaySeconds><Priority>0</Priority></Message>",
		`<?xml version="1.0"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>a&amp;b</MessageBody></Message>`,
		"<Messages><Message><MessageBody>1</MessageBody><Priority>3</Priority></Message><Message><MessageBody>2</MessageBody><DelaySeconds>9</DelaySeconds></Message></Messages>",
		"<Messages></Messages>",
		"<Message><MessageBody>x</MessageBody><Priority> 7 </Priority></Message>",
		"<Message><Priority>x</Priority></Message>",
		"<Queue/>",
		"",
	} {
		f.Add([]byte(s), int64(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, queueDelay int64) {
		msgs, batch, err := decodeSend(body, queueDelay)
		if err != nil {
			if err.Status != 400 {
				t.Fatalf("decode error with status %d: %v", err.Status, err)
			}
			return
		}
		if (!batch && len(msgs) != 1) || (batch && (len(msgs) < 1 || len(msgs) > maxBatch)) {
			t.Fatalf("batch=%v with %d messages", batch, len(msgs))
		}
		for _, m := range msgs {
			if m.Priority == 0 {
				t.Fatal("priority 0 survived decoding")
			}
			// Re-encode as the Go SDK would and decode again.
			out, merr := xml.Marshal(struct {
				XMLName      xml.Name `xml:"Message"`
				MessageBody  string
				DelaySeconds int64
				Priority     int64
			}{MessageBody: m.Body, DelaySeconds: m.DelaySeconds, Priority: m.Priority})
			if merr != nil {
				t.Fatalf("marshal: %v", merr)
			}
			again, _, derr := decodeSend(out, 0)
			if derr != nil || len(again) != 1 || again[0] != m {
				t.Fatalf("round trip of %+v via %s: %+v, %v", m, out, again, derr)
			}
		}
	})
}

// FuzzDecodeQueueAttrs checks that accepted attributes are always in range.
func FuzzDecodeQueueAttrs(f *testing.F) {
	for _, s := range []string{
		"<Queue><DelaySeconds>0</DelaySeconds><MaximumMessageSize>65536</MaximumMessageSize><MessageRetentionPeriod>345600</MessageRetentionPeriod><VisibilityTimeout>30</VisibilityTimeout><PollingWaitSeconds>0</PollingWaitSeconds><LoggingEnabled>false</LoggingEnabled></Queue>",
		"<Queue><VisibilityTimeout>0</VisibilityTimeout></Queue>",
		"<Queue><LoggingEnabled>maybe</LoggingEnabled></Queue>",
		"",
		"<Queue>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		attrs, err := decodeQueueAttrs(body, defaultAttrs())
		if err != nil {
			return
		}
		if verr := attrs.validate(); verr != nil {
			t.Fatalf("accepted out-of-range attributes %+v: %v", attrs, verr)
		}
	})
}

// FuzzDecodeReceiptHandles checks the batch-delete body decoder's limits.
func FuzzDecodeReceiptHandles(f *testing.F) {
	for _, s := range []string{
		"<ReceiptHandles><ReceiptHandle>1-MS0x</ReceiptHandle><ReceiptHandle>1-Mi0y</ReceiptHandle></ReceiptHandles>",
		`<ReceiptHandles xmlns="http://mns.aliyuncs.com/doc/v1/"/>`,
		"<ReceiptHandle>x</ReceiptHandle>",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hs, err := decodeReceiptHandles(body)
		if err == nil && (len(hs) < 1 || len(hs) > maxBatch) {
			t.Fatalf("accepted %d handles", len(hs))
		}
	})
}

// FuzzParseHandle checks that handle parsing never panics and that any
// handle it accepts names a real sequence number.
func FuzzParseHandle(f *testing.F) {
	for _, s := range []string{"1-MS0x", "1-ODU4OTkzNDU5My0xNDM1MTk3NjAwLTItNg==", "1-", "", "2-MS0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if seq, ok := parseHandle(h); ok && seq == 0 {
			t.Fatalf("parseHandle(%q) accepted sequence 0", h)
		}
	})
}

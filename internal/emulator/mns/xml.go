package mns

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// xmlns is the namespace MNS puts on every response root element.
const xmlns = "http://mns.aliyuncs.com/doc/v1/"

// Request bodies. Pointer fields tell "absent" from "zero": MNS applies
// defaults (or, for SetQueueAttributes, keeps the old value) for absent
// elements. Root names carry no namespace so bodies with and without
// xmlns="http://mns.aliyuncs.com/doc/v1/" both decode.

type sendRequest struct {
	XMLName      xml.Name `xml:"Message"`
	MessageBody  *string  `xml:"MessageBody"`
	DelaySeconds *int64   `xml:"DelaySeconds"`
	Priority     *int64   `xml:"Priority"`
}

type batchSendRequest struct {
	XMLName  xml.Name      `xml:"Messages"`
	Messages []sendRequest `xml:"Message"`
}

type receiptHandlesRequest struct {
	XMLName xml.Name `xml:"ReceiptHandles"`
	Handles []string `xml:"ReceiptHandle"`
}

type queueRequest struct {
	XMLName                xml.Name `xml:"Queue"`
	DelaySeconds           *int64   `xml:"DelaySeconds"`
	MaximumMessageSize     *int64   `xml:"MaximumMessageSize"`
	MessageRetentionPeriod *int64   `xml:"MessageRetentionPeriod"`
	VisibilityTimeout      *int64   `xml:"VisibilityTimeout"`
	PollingWaitSeconds     *int64   `xml:"PollingWaitSeconds"`
	LoggingEnabled         *bool    `xml:"LoggingEnabled"`
}

// rootName returns the local name of body's first element.
func rootName(body []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", errMalformedXML
			}
			return "", err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// decodeSend decodes a SendMessage (<Message>) or BatchSendMessage
// (<Messages>) body into messages ready for queue.validateSend, applying
// the queue's DelaySeconds and the default priority to absent elements.
// batch reports which form the body used, since the responses differ.
func decodeSend(body []byte, queueDelay int64) (msgs []sendInput, batch bool, err *apiError) {
	root, rerr := rootName(body)
	if rerr != nil {
		return nil, false, errMalformedXML
	}
	var reqs []sendRequest
	switch root {
	case "Message":
		var r sendRequest
		if xml.Unmarshal(body, &r) != nil {
			return nil, false, errMalformedXML
		}
		reqs = []sendRequest{r}
	case "Messages":
		var r batchSendRequest
		if xml.Unmarshal(body, &r) != nil {
			return nil, true, errMalformedXML
		}
		if len(r.Messages) == 0 || len(r.Messages) > maxBatch {
			return nil, true, errRange("the number of Message", 1, maxBatch)
		}
		reqs, batch = r.Messages, true
	default:
		return nil, false, errSchema(root)
	}
	msgs = make([]sendInput, 0, len(reqs))
	for _, r := range reqs {
		if r.MessageBody == nil {
			return nil, batch, errSchema("MessageBody")
		}
		in := sendInput{Body: *r.MessageBody, DelaySeconds: queueDelay, Priority: defaultPriority}
		if r.DelaySeconds != nil {
			in.DelaySeconds = *r.DelaySeconds
		}
		// The Go SDK always sends <Priority>, 0 when the caller left it
		// unset; treat 0 as "unset" rather than reject every such message.
		if r.Priority != nil && *r.Priority != 0 {
			in.Priority = *r.Priority
		}
		msgs = append(msgs, in)
	}
	return msgs, batch, nil
}

// decodeReceiptHandles decodes a BatchDeleteMessage body.
func decodeReceiptHandles(body []byte) ([]string, *apiError) {
	var r receiptHandlesRequest
	if err := xml.Unmarshal(body, &r); err != nil {
		return nil, errMalformedXML
	}
	if len(r.Handles) == 0 || len(r.Handles) > maxBatch {
		return nil, errRange("the number of ReceiptHandle", 1, maxBatch)
	}
	return r.Handles, nil
}

// decodeQueueAttrs applies a CreateQueue / SetQueueAttributes body to base
// and validates the result. An empty body leaves base unchanged.
func decodeQueueAttrs(body []byte, base queueAttrs) (queueAttrs, *apiError) {
	if len(bytes.TrimSpace(body)) > 0 {
		var r queueRequest
		if err := xml.Unmarshal(body, &r); err != nil {
			return base, errMalformedXML
		}
		set := func(dst *int64, src *int64) {
			if src != nil {
				*dst = *src
			}
		}
		set(&base.DelaySeconds, r.DelaySeconds)
		set(&base.MaximumMessageSize, r.MaximumMessageSize)
		set(&base.MessageRetentionPeriod, r.MessageRetentionPeriod)
		set(&base.VisibilityTimeout, r.VisibilityTimeout)
		set(&base.PollingWaitSeconds, r.PollingWaitSeconds)
		if r.LoggingEnabled != nil {
			base.LoggingEnabled = *r.LoggingEnabled
		}
	}
	if err := base.validate(); err != nil {
		return base, err
	}
	return base, nil
}

// Response bodies, in the element order MNS documents.

type errorResponse struct {
	XMLName   xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

type sendResponse struct {
	XMLName       xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Message"`
	MessageID     string   `xml:"MessageId"`
	BodyMD5       string   `xml:"MessageBodyMD5"`
	ReceiptHandle string   `xml:"ReceiptHandle,omitempty"`
}

type batchSendEntry struct {
	ErrorCode    string `xml:"ErrorCode,omitempty"`
	ErrorMessage string `xml:"ErrorMessage,omitempty"`
	MessageID    string `xml:"MessageId,omitempty"`
	BodyMD5      string `xml:"MessageBodyMD5,omitempty"`
}

type batchSendResponse struct {
	XMLName  xml.Name         `xml:"http://mns.aliyuncs.com/doc/v1/ Messages"`
	Messages []batchSendEntry `xml:"Message"`
}

// receiveEntry is a message as ReceiveMessage and PeekMessage return it.
// Peeks leave Handle and NextVisibleTime empty, and so omit them, as MNS does.
type receiveEntry struct {
	ID               string `xml:"MessageId"`
	Handle           string `xml:"ReceiptHandle,omitempty"`
	BodyMD5          string `xml:"MessageBodyMD5"`
	Body             string `xml:"MessageBody"`
	EnqueueTime      int64  `xml:"EnqueueTime"`
	NextVisibleTime  int64  `xml:"NextVisibleTime,omitempty"`
	FirstDequeueTime int64  `xml:"FirstDequeueTime"`
	DequeueCount     int64  `xml:"DequeueCount"`
	Priority         int64  `xml:"Priority"`
}

type receiveResponse struct {
	XMLName xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Message"`
	receiveEntry
}

type batchReceiveResponse struct {
	XMLName  xml.Name       `xml:"http://mns.aliyuncs.com/doc/v1/ Messages"`
	Messages []receiveEntry `xml:"Message"`
}

type deleteError struct {
	ErrorCode     string `xml:"ErrorCode"`
	ErrorMessage  string `xml:"ErrorMessage"`
	ReceiptHandle string `xml:"ReceiptHandle"`
}

type batchDeleteResponse struct {
	XMLName xml.Name      `xml:"http://mns.aliyuncs.com/doc/v1/ Errors"`
	Errors  []deleteError `xml:"Error"`
}

type changeVisibilityResponse struct {
	XMLName         xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ ChangeVisibility"`
	ReceiptHandle   string   `xml:"ReceiptHandle"`
	NextVisibleTime int64    `xml:"NextVisibleTime"`
}

type queueAttrsEntry struct {
	QueueURL               string `xml:"QueueURL,omitempty"`
	QueueName              string `xml:"QueueName"`
	CreateTime             int64  `xml:"CreateTime"`
	LastModifyTime         int64  `xml:"LastModifyTime"`
	DelaySeconds           int64  `xml:"DelaySeconds"`
	MaximumMessageSize     int64  `xml:"MaximumMessageSize"`
	MessageRetentionPeriod int64  `xml:"MessageRetentionPeriod"`
	VisibilityTimeout      int64  `xml:"VisibilityTimeout"`
	PollingWaitSeconds     int64  `xml:"PollingWaitSeconds"`
	ActiveMessages         int64  `xml:"ActiveMessages"`
	InactiveMessages       int64  `xml:"InactiveMessages"`
	DelayMessages          int64  `xml:"DelayMessages"`
	LoggingEnabled         bool   `xml:"LoggingEnabled"`
}

type queueAttrsResponse struct {
	XMLName xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Queue"`
	queueAttrsEntry
}

type queueURLEntry struct {
	QueueURL string `xml:"QueueURL"`
}

type listQueueResponse struct {
	XMLName    xml.Name        `xml:"http://mns.aliyuncs.com/doc/v1/ Queues"`
	Queues     []queueURLEntry `xml:"Queue"`
	NextMarker string          `xml:"NextMarker,omitempty"`
}

// listQueueDetailResponse answers ListQueue with x-mns-with-meta: true.
type listQueueDetailResponse struct {
	XMLName    xml.Name          `xml:"http://mns.aliyuncs.com/doc/v1/ Queues"`
	Queues     []queueAttrsEntry `xml:"Queue"`
	NextMarker string            `xml:"NextMarker,omitempty"`
}

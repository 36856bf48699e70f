package mns

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds request bodies: a full batch of 64 KiB messages plus XML
// overhead fits comfortably.
const maxBody = 2 << 20

var queueNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*$`)

// call is one request being served.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	body      []byte
	requestID string
	now       time.Time
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, requestID: s.requestID(), now: s.cfg.Now()}
	h := w.Header()
	h.Set("x-mns-request-id", c.requestID)
	h.Set("x-mns-version", apiVersion)
	h.Set("Date", c.now.UTC().Format(http.TimeFormat))

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(c, newAPIError(http.StatusBadRequest, "InvalidArgument", "The request body is too large."))
		return
	}
	c.body = body
	if e := s.authenticate(r, c.now); e != nil {
		s.fail(c, e)
		return
	}
	if e := checkDigest(r.Header.Get("Content-MD5"), body); e != nil {
		s.fail(c, e)
		return
	}
	res, e := s.route(c)
	switch {
	case e != nil:
		s.fail(c, e)
	case res.status != 0:
		s.reply(c, res.status, res.body)
	}
}

// result is a successful response: a status and, unless nil, an XML body.
// A zero result writes nothing (the client went away during a long poll).
type result struct {
	status int
	body   any
}

func noContent() (result, *apiError) { return result{status: http.StatusNoContent}, nil }

// route dispatches on path shape and method. Handlers return their response
// rather than write it, so nothing is written while Server.mu is held.
func (s *Server) route(c *call) (result, *apiError) {
	parts := strings.Split(strings.Trim(c.r.URL.Path, "/"), "/")
	m := c.r.Method
	if parts[0] == "topics" {
		if res, e, ok := s.routeTopics(c, parts); ok {
			return res, e
		}
		return result{}, errInvalidURL
	}
	switch {
	case len(parts) == 1 && parts[0] == "queues" && m == http.MethodGet:
		return s.listQueues(c)
	case len(parts) == 2 && parts[0] == "queues":
		name := parts[1]
		if e := checkQueueName(name); e != nil {
			return result{}, e
		}
		switch m {
		case http.MethodPut:
			if c.r.URL.Query().Get("metaoverride") == "true" {
				return s.setQueueAttributes(c, name)
			}
			return s.createQueue(c, name)
		case http.MethodGet:
			return s.getQueueAttributes(c, name)
		case http.MethodDelete:
			return s.deleteQueue(name)
		}
	case len(parts) == 3 && parts[0] == "queues" && parts[2] == "messages":
		name := parts[1]
		if e := checkQueueName(name); e != nil {
			return result{}, e
		}
		q := c.r.URL.Query()
		switch m {
		case http.MethodPost:
			return s.sendMessages(c, name)
		case http.MethodGet:
			if q.Get("peekonly") == "true" {
				return s.peekMessages(c, name)
			}
			return s.receiveMessages(c, name)
		case http.MethodDelete:
			if q.Has("ReceiptHandle") {
				return s.deleteMessage(c, name, q.Get("ReceiptHandle"))
			}
			return s.batchDeleteMessages(c, name)
		case http.MethodPut:
			return s.changeVisibility(c, name)
		}
	}
	return result{}, errInvalidURL
}

// withQueue runs fn on the named queue under Server.mu.
func (s *Server) withQueue(name string, fn func(q *queue) (result, *apiError)) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return result{}, errQueueNotExist
	}
	return fn(q)
}

func checkQueueName(name string) *apiError {
	if len(name) == 0 || len(name) > 256 {
		return errQueueNameLength
	}
	if !queueNameRE.MatchString(name) {
		return errInvalidQueueName
	}
	return nil
}

// fail writes e as MNS's XML error body.
func (s *Server) fail(c *call, e *apiError) {
	s.reply(c, e.Status, errorResponse{
		Code: e.Code, Message: e.Message, RequestID: c.requestID, HostID: "http://" + c.r.Host,
	})
}

// reply writes status and, unless v is nil, v as an XML document.
func (s *Server) reply(c *call, status int, v any) {
	if v == nil {
		c.w.WriteHeader(status)
		return
	}
	out, err := xml.Marshal(v)
	if err != nil { // only our own fixed response types reach here
		panic("mns: marshal response: " + err.Error())
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.Write(out)
	c.w.Header().Set("Content-Type", "text/xml;charset=utf-8")
	c.w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b.Bytes())
}

// queueURL is the URL MNS reports for a queue, on the host the client used.
func queueURL(c *call, name string) string {
	return "http://" + c.r.Host + "/queues/" + name
}

// intParam parses an optional integer query parameter.
func intParam(c *call, name string, def, lo, hi int64) (int64, *apiError) {
	q := c.r.URL.Query()
	if !q.Has(name) {
		return def, nil
	}
	v, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, errRange(name, lo, hi)
	}
	return v, nil
}

func (s *Server) createQueue(c *call, name string) (result, *apiError) {
	attrs, e := decodeQueueAttrs(c.body, defaultAttrs())
	if e != nil {
		return result{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		if q.attrs == attrs {
			return noContent() // the SDK reads 204 as "exists with the same attributes"
		}
		return result{}, errQueueExists
	}
	s.queues[name] = newQueue(name, attrs, c.now, newIDPrefix())
	c.w.Header().Set("Location", queueURL(c, name))
	return result{status: http.StatusCreated}, nil
}

func (s *Server) setQueueAttributes(c *call, name string) (result, *apiError) {
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		attrs, e := decodeQueueAttrs(c.body, q.attrs)
		if e != nil {
			return result{}, e
		}
		q.attrs, q.modified = attrs, c.now
		return noContent()
	})
}

func (s *Server) attrsEntry(c *call, q *queue) queueAttrsEntry {
	n := q.stats(c.now)
	a := q.attrs
	return queueAttrsEntry{
		QueueName: q.name, CreateTime: q.created.Unix(), LastModifyTime: q.modified.Unix(),
		DelaySeconds: a.DelaySeconds, MaximumMessageSize: a.MaximumMessageSize,
		MessageRetentionPeriod: a.MessageRetentionPeriod, VisibilityTimeout: a.VisibilityTimeout,
		PollingWaitSeconds: a.PollingWaitSeconds, LoggingEnabled: a.LoggingEnabled,
		ActiveMessages: n.Active, InactiveMessages: n.Inactive, DelayMessages: n.Delayed,
	}
}

func (s *Server) getQueueAttributes(c *call, name string) (result, *apiError) {
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		return result{http.StatusOK, queueAttrsResponse{queueAttrsEntry: s.attrsEntry(c, q)}}, nil
	})
}

// deleteQueue is idempotent, as in MNS: deleting a missing queue succeeds.
func (s *Server) deleteQueue(name string) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		delete(s.queues, name)
		q.wake() // long polls on it end with QueueNotExist
	}
	return noContent()
}

// listQueues pages through queue names in order. The marker is the name of
// the first queue of the next page.
func (s *Server) listQueues(c *call) (result, *apiError) {
	h := c.r.Header
	limit, e := retNumber(c)
	if e != nil {
		return result{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names, next := page(s.queues, h.Get("x-mns-prefix"), h.Get("x-mns-marker"), limit)
	if h.Get("x-mns-with-meta") == "true" {
		details := make([]queueAttrsEntry, 0, len(names))
		for _, n := range names {
			e := s.attrsEntry(c, s.queues[n])
			e.QueueURL = queueURL(c, n)
			details = append(details, e)
		}
		return result{http.StatusOK, listQueueDetailResponse{Queues: details, NextMarker: next}}, nil
	}
	urls := make([]queueURLEntry, 0, len(names))
	for _, n := range names {
		urls = append(urls, queueURLEntry{QueueURL: queueURL(c, n)})
	}
	return result{http.StatusOK, listQueueResponse{Queues: urls, NextMarker: next}}, nil
}

func (s *Server) sendMessages(c *call, name string) (result, *apiError) {
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		msgs, batch, e := decodeSend(c.body, q.attrs.DelaySeconds)
		if e != nil {
			return result{}, e
		}
		if !batch {
			if e := q.validateSend(msgs[0]); e != nil {
				return result{}, e
			}
			res := q.send(msgs[0], c.now)
			return result{http.StatusCreated, sendResponse{MessageID: res.ID, BodyMD5: res.BodyMD5, ReceiptHandle: res.Handle}}, nil
		}
		// Valid entries are enqueued and invalid ones reported in place; any
		// failure makes the whole response a 500 carrying the per-entry
		// results, which the SDK decodes and reports as a batch failure.
		resp := batchSendResponse{Messages: make([]batchSendEntry, len(msgs))}
		status := http.StatusCreated
		for i, m := range msgs {
			if e := q.validateSend(m); e != nil {
				resp.Messages[i] = batchSendEntry{ErrorCode: e.Code, ErrorMessage: e.Message}
				status = http.StatusInternalServerError
				continue
			}
			if s.cfg.SendFault != nil {
				if code := s.cfg.SendFault(name, m.Body); code != "" {
					resp.Messages[i] = batchSendEntry{ErrorCode: code, ErrorMessage: "fault injected by Config.SendFault"}
					status = http.StatusInternalServerError
					continue
				}
			}
			res := q.send(m, c.now)
			resp.Messages[i] = batchSendEntry{MessageID: res.ID, BodyMD5: res.BodyMD5}
		}
		return result{status, resp}, nil
	})
}

// messagesResult answers a receive or peek: one <Message>, or <Messages> for
// the batch forms, or MessageNotExist when nothing is available.
func messagesResult(got []receiveEntry, batch bool) (result, *apiError) {
	switch {
	case len(got) == 0:
		return result{}, errMessageNotExist
	case batch:
		return result{http.StatusOK, batchReceiveResponse{Messages: got}}, nil
	default:
		return result{http.StatusOK, receiveResponse{receiveEntry: got[0]}}, nil
	}
}

func (s *Server) peekMessages(c *call, name string) (result, *apiError) {
	n, e := intParam(c, "numOfMessages", 0, 1, maxBatch)
	if e != nil {
		return result{}, e
	}
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		return messagesResult(q.peek(c.now, max(int(n), 1)), n > 0)
	})
}

// receiveMessages serves ReceiveMessage and BatchReceiveMessage, holding
// the request open up to waitseconds (or the queue's PollingWaitSeconds)
// until a message is available.
func (s *Server) receiveMessages(c *call, name string) (result, *apiError) {
	n, e := intParam(c, "numOfMessages", 0, 1, maxBatch)
	if e != nil {
		return result{}, e
	}
	wait, e := intParam(c, "waitseconds", -1, 0, maxWaitSeconds)
	if e != nil {
		return result{}, e
	}
	var deadline time.Time
	for {
		var (
			got    []receiveEntry
			notify chan struct{}
			sleep  time.Duration
		)
		_, e := s.withQueue(name, func(q *queue) (result, *apiError) {
			now := s.cfg.Now()
			if deadline.IsZero() {
				if wait < 0 {
					wait = q.attrs.PollingWaitSeconds
				}
				deadline = now.Add(time.Duration(wait) * time.Second)
			}
			if got = q.receive(now, max(int(n), 1)); len(got) > 0 || !now.Before(deadline) {
				return result{}, nil
			}
			// Sleep until the deadline, or until a message's delay or
			// visibility timeout ends, whichever is first; a send wakes
			// the poll earlier through notify.
			notify, sleep = q.notify, deadline.Sub(now)
			if next := q.nextVisible(now); !next.IsZero() && next.Sub(now) < sleep {
				sleep = next.Sub(now)
			}
			return result{}, nil
		})
		if e != nil {
			return result{}, e
		}
		if notify == nil {
			return messagesResult(got, n > 0)
		}
		t := time.NewTimer(sleep)
		select {
		case <-notify:
		case <-t.C:
		case <-s.closing:
			t.Stop()
			return result{}, errMessageNotExist
		case <-c.r.Context().Done():
			t.Stop()
			return result{}, nil // the client is gone; nothing to answer
		}
		t.Stop()
	}
}

func (s *Server) deleteMessage(c *call, name, handle string) (result, *apiError) {
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		if e := q.delete(handle, c.now); e != nil {
			return result{}, e
		}
		return noContent()
	})
}

// batchDeleteMessages deletes every valid handle; if any fails it answers
// 404 with an <Errors> list naming the failed handles.
func (s *Server) batchDeleteMessages(c *call, name string) (result, *apiError) {
	handles, e := decodeReceiptHandles(c.body)
	if e != nil {
		return result{}, e
	}
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		var resp batchDeleteResponse
		for _, h := range handles {
			if e := q.delete(h, c.now); e != nil {
				resp.Errors = append(resp.Errors, deleteError{ErrorCode: e.Code, ErrorMessage: e.Message, ReceiptHandle: h})
			}
		}
		if len(resp.Errors) > 0 {
			return result{http.StatusNotFound, resp}, nil
		}
		return noContent()
	})
}

func (s *Server) changeVisibility(c *call, name string) (result, *apiError) {
	qs := c.r.URL.Query()
	if qs.Get("ReceiptHandle") == "" {
		return result{}, errMissingHandle
	}
	if !qs.Has("VisibilityTimeout") {
		return result{}, errMissingVisTime
	}
	secs, e := intParam(c, "VisibilityTimeout", 0, minVisibility, maxVisibility)
	if e != nil {
		return result{}, e
	}
	return s.withQueue(name, func(q *queue) (result, *apiError) {
		handle, next, e := q.changeVisibility(qs.Get("ReceiptHandle"), secs, c.now)
		if e != nil {
			return result{}, e
		}
		return result{http.StatusOK, changeVisibilityResponse{ReceiptHandle: handle, NextVisibleTime: next.UnixMilli()}}, nil
	})
}

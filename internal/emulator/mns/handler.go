package mns

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"slices"
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
	if e := s.route(c); e != nil {
		s.fail(c, e)
	}
}

// route dispatches on path shape and method. Handlers return an *apiError
// instead of writing one so every failure goes through fail.
func (s *Server) route(c *call) *apiError {
	parts := strings.Split(strings.Trim(c.r.URL.Path, "/"), "/")
	m := c.r.Method
	switch {
	case len(parts) == 1 && parts[0] == "queues" && m == http.MethodGet:
		return s.listQueues(c)
	case len(parts) == 2 && parts[0] == "queues":
		name := parts[1]
		if e := checkQueueName(name); e != nil {
			return e
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
			return s.deleteQueue(c, name)
		}
	case len(parts) == 3 && parts[0] == "queues" && parts[2] == "messages":
		name := parts[1]
		if e := checkQueueName(name); e != nil {
			return e
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
	return errInvalidURL
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

func (s *Server) createQueue(c *call, name string) *apiError {
	attrs, e := decodeQueueAttrs(c.body, defaultAttrs())
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		if q.attrs == attrs {
			s.reply(c, http.StatusNoContent, nil)
			return nil
		}
		return errQueueExists
	}
	s.queues[name] = newQueue(name, attrs, c.now, newIDPrefix())
	c.w.Header().Set("Location", queueURL(c, name))
	s.reply(c, http.StatusCreated, nil)
	return nil
}

func (s *Server) setQueueAttributes(c *call, name string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return errQueueNotExist
	}
	attrs, e := decodeQueueAttrs(c.body, q.attrs)
	if e != nil {
		return e
	}
	q.attrs, q.modified = attrs, c.now
	// A shorter PollingWaitSeconds or VisibilityTimeout does not change
	// pending waits; waking lets waiters recompute anyway.
	q.wake()
	s.reply(c, http.StatusNoContent, nil)
	return nil
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

func (s *Server) getQueueAttributes(c *call, name string) *apiError {
	s.mu.Lock()
	q := s.queues[name]
	if q == nil {
		s.mu.Unlock()
		return errQueueNotExist
	}
	entry := s.attrsEntry(c, q)
	s.mu.Unlock()
	s.reply(c, http.StatusOK, queueAttrsResponse{queueAttrsEntry: entry})
	return nil
}

// deleteQueue is idempotent, as in MNS: deleting a missing queue succeeds.
func (s *Server) deleteQueue(c *call, name string) *apiError {
	s.mu.Lock()
	if q := s.queues[name]; q != nil {
		delete(s.queues, name)
		q.wake() // long polls on it end with QueueNotExist
	}
	s.mu.Unlock()
	s.reply(c, http.StatusNoContent, nil)
	return nil
}

// listQueues pages through queue names in order. The marker is the name of
// the first queue of the next page.
func (s *Server) listQueues(c *call) *apiError {
	h := c.r.Header
	limit := int64(1000)
	if v := h.Get("x-mns-ret-number"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 1000 {
			return errRange("x-mns-ret-number", 1, 1000)
		}
		limit = n
	}
	prefix, marker := h.Get("x-mns-prefix"), h.Get("x-mns-marker")
	withMeta := h.Get("x-mns-with-meta") == "true"

	s.mu.Lock()
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		if strings.HasPrefix(n, prefix) && n >= marker {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	next := ""
	if int64(len(names)) > limit {
		next, names = names[limit], names[:limit]
	}
	var details []queueAttrsEntry
	if withMeta {
		for _, n := range names {
			e := s.attrsEntry(c, s.queues[n])
			e.QueueURL = queueURL(c, n)
			details = append(details, e)
		}
	}
	s.mu.Unlock()

	if withMeta {
		s.reply(c, http.StatusOK, listQueueDetailResponse{Queues: details, NextMarker: next})
		return nil
	}
	urls := make([]queueURLEntry, 0, len(names))
	for _, n := range names {
		urls = append(urls, queueURLEntry{QueueURL: queueURL(c, n)})
	}
	s.reply(c, http.StatusOK, listQueueResponse{Queues: urls, NextMarker: next})
	return nil
}

func (s *Server) sendMessages(c *call, name string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return errQueueNotExist
	}
	msgs, batch, e := decodeSend(c.body, q.attrs.DelaySeconds)
	if e != nil {
		return e
	}
	if !batch {
		if e := q.validateSend(msgs[0]); e != nil {
			return e
		}
		res := q.send(msgs[0], c.now)
		s.reply(c, http.StatusCreated, sendResponse{MessageID: res.ID, BodyMD5: res.BodyMD5, ReceiptHandle: res.Handle})
		return nil
	}
	// A batch is all-or-nothing per entry: valid entries are enqueued,
	// invalid ones are reported in place, and any failure makes the whole
	// response a 500 carrying the per-entry results, as MNS does.
	resp := batchSendResponse{Messages: make([]batchSendEntry, len(msgs))}
	failed := false
	for i, m := range msgs {
		if e := q.validateSend(m); e != nil {
			resp.Messages[i] = batchSendEntry{ErrorCode: e.Code, ErrorMessage: e.Message}
			failed = true
			continue
		}
		res := q.send(m, c.now)
		resp.Messages[i] = batchSendEntry{MessageID: res.ID, BodyMD5: res.BodyMD5}
	}
	status := http.StatusCreated
	if failed {
		status = http.StatusInternalServerError
	}
	s.reply(c, status, resp)
	return nil
}

func (s *Server) peekMessages(c *call, name string) *apiError {
	n, e := intParam(c, "numOfMessages", 0, 1, maxBatch)
	if e != nil {
		return e
	}
	s.mu.Lock()
	q := s.queues[name]
	if q == nil {
		s.mu.Unlock()
		return errQueueNotExist
	}
	got := q.peek(c.now, max(int(n), 1))
	s.mu.Unlock()
	return s.replyMessages(c, got, n > 0)
}

// replyMessages answers a receive or peek: one <Message>, or <Messages> for
// the batch forms, or MessageNotExist when nothing is available.
func (s *Server) replyMessages(c *call, got []received, batch bool) *apiError {
	if len(got) == 0 {
		return errMessageNotExist
	}
	if !batch {
		s.reply(c, http.StatusOK, receiveResponse{receiveEntry: toEntry(got[0])})
		return nil
	}
	resp := batchReceiveResponse{Messages: make([]receiveEntry, len(got))}
	for i, r := range got {
		resp.Messages[i] = toEntry(r)
	}
	s.reply(c, http.StatusOK, resp)
	return nil
}

// receiveMessages serves ReceiveMessage and BatchReceiveMessage, holding
// the request open up to waitseconds (or the queue's PollingWaitSeconds)
// until a message is available.
func (s *Server) receiveMessages(c *call, name string) *apiError {
	n, e := intParam(c, "numOfMessages", 0, 1, maxBatch)
	if e != nil {
		return e
	}
	wait, e := intParam(c, "waitseconds", -1, 0, maxWaitSeconds)
	if e != nil {
		return e
	}
	var deadline time.Time
	for {
		s.mu.Lock()
		q := s.queues[name]
		if q == nil {
			s.mu.Unlock()
			return errQueueNotExist
		}
		now := s.cfg.Now()
		if deadline.IsZero() {
			if wait < 0 {
				wait = q.attrs.PollingWaitSeconds
			}
			deadline = now.Add(time.Duration(wait) * time.Second)
		}
		got := q.receive(now, max(int(n), 1))
		if len(got) > 0 || !now.Before(deadline) {
			s.mu.Unlock()
			return s.replyMessages(c, got, n > 0)
		}
		notify := q.notify
		sleep := deadline.Sub(now)
		if next := q.nextVisible(now); !next.IsZero() && next.Sub(now) < sleep {
			sleep = next.Sub(now)
		}
		s.mu.Unlock()

		t := time.NewTimer(sleep)
		select {
		case <-notify:
		case <-t.C:
		case <-s.closing:
			t.Stop()
			return errMessageNotExist
		case <-c.r.Context().Done():
			t.Stop()
			return nil // the client is gone; nothing to answer
		}
		t.Stop()
	}
}

func (s *Server) deleteMessage(c *call, name, handle string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return errQueueNotExist
	}
	if e := q.delete(handle, c.now); e != nil {
		return e
	}
	s.reply(c, http.StatusNoContent, nil)
	return nil
}

// batchDeleteMessages deletes every valid handle; if any fails it answers
// 404 with an <Errors> list naming the failed handles.
func (s *Server) batchDeleteMessages(c *call, name string) *apiError {
	handles, e := decodeReceiptHandles(c.body)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return errQueueNotExist
	}
	var resp batchDeleteResponse
	for _, h := range handles {
		if e := q.delete(h, c.now); e != nil {
			resp.Errors = append(resp.Errors, deleteError{ErrorCode: e.Code, ErrorMessage: e.Message, ReceiptHandle: h})
		}
	}
	if len(resp.Errors) > 0 {
		s.reply(c, http.StatusNotFound, resp)
		return nil
	}
	s.reply(c, http.StatusNoContent, nil)
	return nil
}

func (s *Server) changeVisibility(c *call, name string) *apiError {
	qs := c.r.URL.Query()
	if !qs.Has("ReceiptHandle") || qs.Get("ReceiptHandle") == "" {
		return errMissingHandle
	}
	if !qs.Has("VisibilityTimeout") {
		return errMissingVisTime
	}
	secs, e := intParam(c, "VisibilityTimeout", 0, minVisibility, maxVisibility)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return errQueueNotExist
	}
	handle, next, e := q.changeVisibility(qs.Get("ReceiptHandle"), secs, c.now)
	if e != nil {
		return e
	}
	s.reply(c, http.StatusOK, changeVisibilityResponse{ReceiptHandle: handle, NextVisibleTime: next.UnixMilli()})
	return nil
}

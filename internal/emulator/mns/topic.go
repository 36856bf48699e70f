package mns

import (
	"crypto/md5"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Topics: a topic fans each published message out to its subscriptions.
// The emulator delivers to queue endpoints of this account only
// (acs:mns:<region>:<account>:queues/<name>, what the SDK's
// GenerateQueueEndpoint makes), at once and under Server.mu, in the
// subscription's NotifyContentFormat; a message for a subscription whose
// queue is gone, or larger than that queue's MaximumMessageSize, is dropped
// and counted (Server.Dropped) where MNS would retry it by the
// subscription's NotifyStrategy.

// Notify content formats.
const (
	formatXML        = "XML"
	formatJSON       = "JSON"
	formatSimplified = "SIMPLIFIED"
)

const maxTagLen = 16 // MNS's bound on MessageTag and FilterTag

type topic struct {
	name           string
	maxMessageSize int64
	loggingEnabled bool
	created        time.Time
	modified       time.Time
	messages       int64 // published
	subs           map[string]*subscription
	idPrefix       string
	seq            int64
}

type subscription struct {
	name, endpoint, queue, filterTag, strategy, format string
	created                                            time.Time
}

type topicRequest struct {
	XMLName            xml.Name `xml:"Topic"`
	MaximumMessageSize *int64   `xml:"MaximumMessageSize"`
	LoggingEnabled     *bool    `xml:"LoggingEnabled"`
}

type subscribeRequest struct {
	XMLName             xml.Name `xml:"Subscription"`
	Endpoint            string   `xml:"Endpoint"`
	FilterTag           string   `xml:"FilterTag"`
	NotifyStrategy      string   `xml:"NotifyStrategy"`
	NotifyContentFormat string   `xml:"NotifyContentFormat"`
}

type publishRequest struct {
	XMLName     xml.Name `xml:"Message"`
	MessageBody *string  `xml:"MessageBody"`
	MessageTag  string   `xml:"MessageTag"`
}

type publishResponse struct {
	XMLName   xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Message"`
	MessageID string   `xml:"MessageId"`
	BodyMD5   string   `xml:"MessageBodyMD5"`
}

type topicAttrsResponse struct {
	XMLName                xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Topic"`
	TopicName              string   `xml:"TopicName"`
	CreateTime             int64    `xml:"CreateTime"`
	LastModifyTime         int64    `xml:"LastModifyTime"`
	MaximumMessageSize     int64    `xml:"MaximumMessageSize"`
	MessageRetentionPeriod int64    `xml:"MessageRetentionPeriod"`
	MessageCount           int64    `xml:"MessageCount"`
	LoggingEnabled         bool     `xml:"LoggingEnabled"`
}

type topicURLEntry struct {
	TopicURL string `xml:"TopicURL"`
}

type listTopicResponse struct {
	XMLName    xml.Name        `xml:"http://mns.aliyuncs.com/doc/v1/ Topics"`
	Topics     []topicURLEntry `xml:"Topic"`
	NextMarker string          `xml:"NextMarker,omitempty"`
}

type subscriptionAttrsResponse struct {
	XMLName             xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Subscription"`
	SubscriptionName    string   `xml:"SubscriptionName"`
	Subscriber          string   `xml:"Subscriber"`
	TopicOwner          string   `xml:"TopicOwner"`
	TopicName           string   `xml:"TopicName"`
	Endpoint            string   `xml:"Endpoint"`
	NotifyStrategy      string   `xml:"NotifyStrategy"`
	NotifyContentFormat string   `xml:"NotifyContentFormat"`
	FilterTag           string   `xml:"FilterTag,omitempty"`
	CreateTime          int64    `xml:"CreateTime"`
	LastModifyTime      int64    `xml:"LastModifyTime"`
}

// notification is what an XML-format subscription's queue receives.
type notification struct {
	XMLName          xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Notification" json:"-"`
	TopicOwner       string   `xml:"TopicOwner" json:"TopicOwner"`
	TopicName        string   `xml:"TopicName" json:"TopicName"`
	Subscriber       string   `xml:"Subscriber" json:"Subscriber"`
	SubscriptionName string   `xml:"SubscriptionName" json:"SubscriptionName"`
	MessageID        string   `xml:"MessageId" json:"MessageId"`
	MessageMD5       string   `xml:"MessageMD5" json:"MessageMD5"`
	MessageTag       string   `xml:"MessageTag,omitempty" json:"MessageTag,omitempty"`
	Message          string   `xml:"Message" json:"Message"`
	PublishTime      int64    `xml:"PublishTime" json:"PublishTime"`
}

var (
	errTopicNotExist   = &apiError{http.StatusNotFound, "TopicNotExist", "The topic you provided does not exist."}
	errTopicExists     = &apiError{http.StatusConflict, "TopicAlreadyExist", "The topic you want to create already exists."}
	errTopicName       = &apiError{http.StatusBadRequest, "TopicNameInvalid", "The topic name you provided is not valid."}
	errTopicNameLength = &apiError{http.StatusBadRequest, "TopicNameLengthError", "The length of topic name should be between 1 and 256."}
	errSubNotExist     = &apiError{http.StatusNotFound, "SubscriptionNotExist", "The subscription you provided does not exist."}
	errSubExists       = &apiError{http.StatusConflict, "SubscriptionAlreadyExist", "The subscription you want to create already exists."}
	errSubName         = &apiError{http.StatusBadRequest, "SubsriptionNameInvalid", "The subscription name you provided is not valid."}
)

func checkTopicName(name string) *apiError {
	switch {
	case len(name) == 0 || len(name) > 256:
		return errTopicNameLength
	case !queueNameRE.MatchString(name):
		return errTopicName
	}
	return nil
}

// account is the account id the request's host names (<account>.mns.…).
func account(c *call) string {
	a, _, _ := strings.Cut(c.r.Host, ".")
	return a
}

// routeTopics serves /topics…; ok is false for a path it does not know.
func (s *Server) routeTopics(c *call, parts []string) (res result, e *apiError, ok bool) {
	m := c.r.Method
	if len(parts) == 1 {
		if m != http.MethodGet {
			return result{}, nil, false
		}
		res, e = s.listTopics(c)
		return res, e, true
	}
	name := parts[1]
	if e := checkTopicName(name); e != nil {
		return result{}, e, true
	}
	switch {
	case len(parts) == 2 && m == http.MethodPut:
		res, e = s.createTopic(c, name, c.r.URL.Query().Get("metaoverride") == "true")
	case len(parts) == 2 && m == http.MethodGet:
		res, e = s.getTopic(name)
	case len(parts) == 2 && m == http.MethodDelete:
		res, e = s.deleteTopic(name)
	case len(parts) == 3 && parts[2] == "messages" && m == http.MethodPost:
		res, e = s.publish(c, name)
	case len(parts) == 4 && parts[2] == "subscriptions":
		sub := parts[3]
		if len(sub) == 0 || len(sub) > 256 || !queueNameRE.MatchString(sub) {
			return result{}, errSubName, true
		}
		switch m {
		case http.MethodPut:
			res, e = s.subscribe(c, name, sub)
		case http.MethodGet:
			res, e = s.getSubscription(c, name, sub)
		case http.MethodDelete:
			res, e = s.unsubscribe(name, sub)
		default:
			return result{}, nil, false
		}
	default:
		return result{}, nil, false
	}
	return res, e, true
}

func (s *Server) createTopic(c *call, name string, override bool) (result, *apiError) {
	var r topicRequest
	if len(c.body) > 0 && xml.Unmarshal(c.body, &r) != nil {
		return result{}, errMalformedXML
	}
	size := int64(defaultMessageSize)
	if r.MaximumMessageSize != nil && *r.MaximumMessageSize != 0 {
		size = *r.MaximumMessageSize
	}
	if size < minMessageSize || size > maxMessageSize {
		return result{}, errRange("MaximumMessageSize", minMessageSize, maxMessageSize)
	}
	logging := r.LoggingEnabled != nil && *r.LoggingEnabled
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	switch {
	case override && t == nil:
		return result{}, errTopicNotExist
	case override:
		t.maxMessageSize, t.loggingEnabled, t.modified = size, logging, c.now
		return noContent()
	case t != nil && t.maxMessageSize == size && t.loggingEnabled == logging:
		return noContent() // the SDK reads 204 as "exists with the same attributes"
	case t != nil:
		return result{}, errTopicExists
	}
	s.topics[name] = &topic{name: name, maxMessageSize: size, loggingEnabled: logging, created: c.now, modified: c.now,
		subs: map[string]*subscription{}, idPrefix: newIDPrefix()}
	c.w.Header().Set("Location", "http://"+c.r.Host+"/topics/"+name)
	return result{status: http.StatusCreated}, nil
}

func (s *Server) getTopic(name string) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return result{}, errTopicNotExist
	}
	return result{http.StatusOK, topicAttrsResponse{TopicName: t.name, CreateTime: t.created.Unix(), LastModifyTime: t.modified.Unix(),
		MaximumMessageSize: t.maxMessageSize, MessageRetentionPeriod: defaultRetention, MessageCount: t.messages, LoggingEnabled: t.loggingEnabled}}, nil
}

// deleteTopic is idempotent, as DeleteQueue is; its subscriptions go too.
func (s *Server) deleteTopic(name string) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.topics, name)
	return noContent()
}

func (s *Server) listTopics(c *call) (result, *apiError) {
	limit, e := retNumber(c)
	if e != nil {
		return result{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names, next := page(s.topics, c.r.Header.Get("x-mns-prefix"), c.r.Header.Get("x-mns-marker"), limit)
	urls := make([]topicURLEntry, 0, len(names))
	for _, n := range names {
		urls = append(urls, topicURLEntry{TopicURL: "http://" + c.r.Host + "/topics/" + n})
	}
	return result{http.StatusOK, listTopicResponse{Topics: urls, NextMarker: next}}, nil
}

// queueEndpoint reads the queue of a subscription endpoint
// acs:mns:<region>:<account>:queues/<name>.
func queueEndpoint(endpoint string) (string, bool) {
	parts := strings.Split(endpoint, ":")
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "mns" {
		return "", false
	}
	q, ok := strings.CutPrefix(parts[4], "queues/")
	return q, ok && checkQueueName(q) == nil
}

func (s *Server) subscribe(c *call, name, sub string) (result, *apiError) {
	var r subscribeRequest
	if xml.Unmarshal(c.body, &r) != nil {
		return result{}, errMalformedXML
	}
	if c.r.URL.Query().Get("metaoverride") == "true" {
		return s.setSubscription(name, sub, r.NotifyStrategy)
	}
	q, ok := queueEndpoint(r.Endpoint)
	if !ok {
		return result{}, newAPIError(http.StatusBadRequest, "EndpointInvalid",
			"The endpoint %q is not valid; the emulator delivers to queue endpoints acs:mns:<region>:<account>:queues/<name> only.", r.Endpoint)
	}
	if len(r.FilterTag) > maxTagLen {
		return result{}, newAPIError(http.StatusBadRequest, "InvalidArgument", "The length of FilterTag should be at most %d.", maxTagLen)
	}
	format := r.NotifyContentFormat
	switch format {
	case "":
		format = formatXML
	case formatXML, formatJSON, formatSimplified:
	default:
		return result{}, newAPIError(http.StatusBadRequest, "InvalidArgument", "NotifyContentFormat must be XML, JSON or SIMPLIFIED.")
	}
	strategy := r.NotifyStrategy
	if strategy == "" {
		strategy = "BACKOFF_RETRY"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return result{}, errTopicNotExist
	}
	n := &subscription{name: sub, endpoint: r.Endpoint, queue: q, filterTag: r.FilterTag, strategy: strategy, format: format, created: c.now}
	if old := t.subs[sub]; old != nil {
		same := *old
		same.created = c.now
		if same == *n {
			return noContent()
		}
		return result{}, errSubExists
	}
	t.subs[sub] = n
	c.w.Header().Set("Location", "http://"+c.r.Host+"/topics/"+name+"/subscriptions/"+sub)
	return result{status: http.StatusCreated}, nil
}

// withSubscription runs fn on a topic's subscription under Server.mu.
func (s *Server) withSubscription(name, sub string, fn func(t *topic, su *subscription) (result, *apiError)) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return result{}, errTopicNotExist
	}
	su := t.subs[sub]
	if su == nil {
		return result{}, errSubNotExist
	}
	return fn(t, su)
}

func (s *Server) setSubscription(name, sub, strategy string) (result, *apiError) {
	return s.withSubscription(name, sub, func(_ *topic, su *subscription) (result, *apiError) {
		if strategy != "" {
			su.strategy = strategy
		}
		return noContent()
	})
}

func (s *Server) getSubscription(c *call, name, sub string) (result, *apiError) {
	return s.withSubscription(name, sub, func(t *topic, su *subscription) (result, *apiError) {
		return result{http.StatusOK, subscriptionAttrsResponse{SubscriptionName: su.name, Subscriber: account(c), TopicOwner: account(c),
			TopicName: t.name, Endpoint: su.endpoint, NotifyStrategy: su.strategy, NotifyContentFormat: su.format, FilterTag: su.filterTag,
			CreateTime: su.created.Unix(), LastModifyTime: su.created.Unix()}}, nil
	})
}

func (s *Server) unsubscribe(name, sub string) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.topics[name]; t != nil {
		delete(t.subs, sub)
	}
	return noContent()
}

// publish serves PublishMessage: a <Message> with MessageBody and an
// optional MessageTag, delivered to every subscription whose FilterTag is
// empty or equals the tag.
func (s *Server) publish(c *call, name string) (result, *apiError) {
	var r publishRequest
	if xml.Unmarshal(c.body, &r) != nil {
		return result{}, errMalformedXML
	}
	if r.MessageBody == nil {
		return result{}, errSchema("MessageBody")
	}
	if len(r.MessageTag) > maxTagLen {
		return result{}, newAPIError(http.StatusBadRequest, "InvalidArgument", "The length of MessageTag should be at most %d.", maxTagLen)
	}
	body := *r.MessageBody
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return result{}, errTopicNotExist
	}
	if int64(len(body)) > t.maxMessageSize {
		return result{}, newAPIError(http.StatusBadRequest, "InvalidArgument",
			"The length of message should not be larger than MaximumMessageSize(%d).", t.maxMessageSize)
	}
	t.seq++
	t.messages++
	sum := md5.Sum([]byte(body))
	n := notification{TopicOwner: account(c), TopicName: t.name, Subscriber: account(c),
		MessageID: fmt.Sprintf("%s-%X-%08X", t.idPrefix, c.now.UnixMilli(), t.seq), MessageMD5: fmt.Sprintf("%X", sum),
		MessageTag: r.MessageTag, Message: body, PublishTime: c.now.UnixMilli()}
	for _, subName := range slices.Sorted(maps.Keys(t.subs)) {
		su := t.subs[subName]
		if su.filterTag != "" && su.filterTag != r.MessageTag {
			continue
		}
		q := s.queues[su.queue]
		n.SubscriptionName = su.name
		out := notify(su.format, n)
		if q == nil || int64(len(out)) > q.attrs.MaximumMessageSize {
			s.dropped++
			continue
		}
		q.send(sendInput{Body: out, DelaySeconds: q.attrs.DelaySeconds, Priority: defaultPriority}, c.now)
	}
	return result{http.StatusCreated, publishResponse{MessageID: n.MessageID, BodyMD5: n.MessageMD5}}, nil
}

// notify renders a notification in a subscription's format.
func notify(format string, n notification) string {
	switch format {
	case formatSimplified:
		return n.Message
	case formatJSON:
		b, _ := json.Marshal(n) // strings and numbers only
		return string(b)
	}
	b, _ := xml.Marshal(n)
	return xml.Header + string(b)
}

// retNumber reads x-mns-ret-number (default 1000).
func retNumber(c *call) (int64, *apiError) {
	v := c.r.Header.Get("x-mns-ret-number")
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > 1000 {
		return 0, errRange("x-mns-ret-number", 1, 1000)
	}
	return n, nil
}

// page is the sorted names of m with prefix from marker on, at most limit,
// and the marker of the next page ("" at the end).
func page[V any](m map[string]V, prefix, marker string, limit int64) (names []string, next string) {
	for n := range m {
		if strings.HasPrefix(n, prefix) && n >= marker {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if int64(len(names)) > limit {
		next, names = names[limit], names[:limit]
	}
	return names, next
}

// Dropped is how many topic deliveries found no queue to go to, or a
// message too large for it.
func (s *Server) Dropped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// connSpec declares how to reach and authenticate to a Kafka cluster: the
// settings the source and the sink share, under their own prefix
// (source.brokers, sink.brokers, …).
var connSpec = api.Spec{
	{Name: "brokers", Type: api.TypeList, Required: true, Check: kit.CheckBrokers,
		Description: "Bootstrap brokers, host:port, comma-separated."},
	{Name: "client.id", Type: api.TypeString,
		Description: "Client id the brokers see (quotas, logs); default ferry-<connector>."},
	{Name: "sasl.mechanism", Type: api.TypeString, Default: "none", Enum: []string{"none", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
		Description: "SASL mechanism; none for an unauthenticated listener."},
	{Name: "sasl.username", Type: api.TypeString, Check: api.MaxLen(1024),
		Description: "SASL user name."},
	{Name: "sasl.password", Type: api.TypeString, Secret: true, Check: api.MaxLen(4096),
		Description: "SASL password; use ${env:…}, ${file:…} or ${dir:…}."},
	{Name: "tls.enabled", Type: api.TypeBool, Default: "false",
		Description: "Connect with TLS."},
	{Name: "tls.ca.file", Type: api.TypeString,
		Description: "PEM CA bundle that verifies the brokers (default: the system's roots)."},
	{Name: "tls.cert.file", Type: api.TypeString,
		Description: "PEM client certificate, for brokers that require one (with tls.key.file)."},
	{Name: "tls.key.file", Type: api.TypeString,
		Description: "PEM key of tls.cert.file."},
	{Name: "tls.insecure.skip.verify", Type: api.TypeBool, Default: "false",
		Description: "Do not verify the brokers' certificates (testing only)."},
	{Name: "dial.timeout", Type: api.TypeDuration, Default: "10s", Check: api.DurationRange(100*time.Millisecond, 5*time.Minute),
		Description: "Time to connect to one broker."},
}

// validateConn checks the settings that depend on each other.
func validateConn(c api.Config) error {
	var errs []api.FieldError
	mech := c.String("sasl.mechanism")
	if mech != "none" && (c.String("sasl.username") == "" || c.String("sasl.password") == "") {
		if c.String("sasl.username") == "" {
			errs = append(errs, api.FieldError{Field: "sasl.username", Message: "is required with sasl.mechanism=" + mech})
		}
		if c.String("sasl.password") == "" {
			errs = append(errs, api.FieldError{Field: "sasl.password", Message: "is required with sasl.mechanism=" + mech})
		}
	}
	if mech == "none" && (c.String("sasl.username") != "" || c.String("sasl.password") != "") {
		errs = append(errs, api.FieldError{Field: "sasl.mechanism", Message: "is none, but sasl.username or sasl.password is set"})
	}
	if (c.String("tls.cert.file") == "") != (c.String("tls.key.file") == "") {
		errs = append(errs, api.FieldError{Field: "tls.cert.file", Message: "tls.cert.file and tls.key.file go together"})
	}
	if !c.Bool("tls.enabled") {
		for _, k := range []string{"tls.ca.file", "tls.cert.file", "tls.key.file"} {
			if c.String(k) != "" {
				errs = append(errs, api.FieldError{Field: k, Message: "is set but tls.enabled is false"})
			}
		}
	}
	if errs != nil {
		return &api.ValidationError{Fields: errs}
	}
	return nil
}

// conn is a parsed connSpec: what a kafka-go client needs.
type conn struct {
	brokers     []string
	clientID    string
	mechanism   sasl.Mechanism // nil: none
	tls         *tls.Config    // nil: plain TCP
	dialTimeout time.Duration
}

// parseConn builds the connection from a validated config; the errors are
// what a broken file (CA, certificate) says, to fail the task with.
func parseConn(c api.Config, connector string) (conn, error) {
	out := conn{brokers: c.List("brokers"), clientID: c.String("client.id"), dialTimeout: c.Duration("dial.timeout")}
	if out.clientID == "" {
		out.clientID = "ferry-" + connector
	}
	user, pw := c.String("sasl.username"), c.String("sasl.password")
	var err error
	switch c.String("sasl.mechanism") {
	case "PLAIN":
		out.mechanism = plain.Mechanism{Username: user, Password: pw}
	case "SCRAM-SHA-256":
		out.mechanism, err = scram.Mechanism(scram.SHA256, user, pw)
	case "SCRAM-SHA-512":
		out.mechanism, err = scram.Mechanism(scram.SHA512, user, pw)
	}
	if err != nil {
		return conn{}, api.Fatal(fmt.Errorf("kafka: sasl: %w", err))
	}
	if c.Bool("tls.enabled") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.Bool("tls.insecure.skip.verify")} //nolint:gosec // only when the user asks
		if f := c.String("tls.ca.file"); f != "" {
			pem, err := os.ReadFile(f)
			if err != nil {
				return conn{}, api.Fatal(fmt.Errorf("kafka: tls.ca.file: %w", err))
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return conn{}, api.Fatal(fmt.Errorf("kafka: tls.ca.file %s holds no PEM certificate", f))
			}
			tc.RootCAs = pool
		}
		if cf := c.String("tls.cert.file"); cf != "" {
			kp, err := tls.LoadX509KeyPair(cf, c.String("tls.key.file"))
			if err != nil {
				return conn{}, api.Fatal(fmt.Errorf("kafka: tls.cert.file/tls.key.file: %w", err))
			}
			tc.Certificates = []tls.Certificate{kp}
		}
		out.tls = tc
	}
	return out, nil
}

// transport is a kafka-go Transport for writers and the admin client.
func (c conn) transport() *kafkago.Transport {
	return &kafkago.Transport{
		ClientID: c.clientID, DialTimeout: c.dialTimeout, IdleTimeout: 30 * time.Second,
		MetadataTTL: 30 * time.Second, SASL: c.mechanism, TLS: c.tls,
	}
}

// triage sorts Kafka's errors: protocol errors by their code (kafka-go's
// Error says which are temporary), authentication and authorization and a
// missing topic as fatal with what to fix, a record the broker refuses
// for itself as the record's fault, everything else (network, timeouts)
// as transient.
var triage = kit.Triage{Classify: classify}

func classify(err error) kit.Class {
	var ke kafkago.Error
	if !errors.As(err, &ke) {
		return kit.Transient
	}
	switch ke {
	case kafkago.MessageSizeTooLarge, kafkago.InvalidMessage, kafkago.InvalidMessageSize, kafkago.InvalidRecord,
		kafkago.InvalidTimestamp, kafkago.UnsupportedCompressionType:
		return kit.RecordFault
	case kafkago.SASLAuthenticationFailed, kafkago.TopicAuthorizationFailed, kafkago.GroupAuthorizationFailed,
		kafkago.ClusterAuthorizationFailed, kafkago.TransactionalIDAuthorizationFailed, kafkago.IllegalSASLState,
		kafkago.UnsupportedSASLMechanism, kafkago.InvalidTopic, kafkago.TopicDeletionDisabled,
		kafkago.UnsupportedVersion, kafkago.InvalidRequiredAcks, kafkago.InvalidConfiguration,
		kafkago.PolicyViolation, kafkago.InvalidReplicationFactor, kafkago.InvalidPartitionNumber:
		return kit.Fatal
	}
	// The rest, temporary by the protocol (leader moves, throttling,
	// coordinator loads, an unknown topic's metadata still spreading) or
	// not, is retried: the engine's retry budget bounds being wrong, and
	// whoever must fail at once (a topic that does not exist) is checked
	// when the task opens.
	return kit.Transient
}

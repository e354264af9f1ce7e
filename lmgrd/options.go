package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/lmtriad/lmtriad/notify"
)

// Options configure lmgrd. NewOptions gives the defaults.
type Options struct {
	LicensePath string // -c: a file, a directory or a search path of those
	LogFile     string // -l: debug log path; "+path" appends; empty: stdout
	Foreground  bool   // -z: do not detach
	LocalOnly   bool   // -local: lmdown, lmreread, lmremove only from this host
	NoDown      bool   // -x lmdown
	NoRemove    bool   // -x lmremove
	// AutoRecycle (-auto-recycle) has the vendor daemons recycle, every day
	// at 00:00 UTC, the named users unused for 30 days (vendorctl.Args).
	AutoRecycle bool
	// RemoteAdmin (-remote-admin) is what admin requests from other hosts
	// get (NewOptions: restricted); requests from this host are full.
	RemoteAdmin hostid.Access
	// VendorKeys is -vendor-keys: a public key file or a directory of *.pub
	// files the vendor daemons verify license signatures with, beside the
	// keys built into them. A vendor with no key serves nothing unless it is
	// in Unsigned. Keys are never taken from the license directory:
	// whoever can write a license file must not choose its keys.
	VendorKeys string
	// Unsigned is -unsigned: the vendors whose license signatures are not
	// checked (their daemons get vendorctl.Args.Unsigned).
	Unsigned []string
	Self     string // -self: which SERVER line host this process is
	// HTTP (-http) is the address of the HTTP listener (/metrics, the API):
	// "" for the SERVER host at DefaultHTTPPort, "off" for none.
	HTTP string
	// HTTPCert and HTTPKey (-http-cert, -http-key) serve it over TLS.
	HTTPCert, HTTPKey string
	// Notifications: mail through SMTP (-smtp HOST:PORT, -smtp-user, the
	// password from $LMTRIAD_SMTP_PASSWORD, -mail-from, -mail-to) and a
	// webhook (-webhook URL); NotifyRules tune what is sent.
	SMTP, SMTPUser, SMTPPassword, MailFrom string
	MailTo                                 []string
	Webhook                                string
	NotifyRules                            notify.Rules
	// StatsEvery is how often usage statistics are sampled (0: 10 s;
	// tests set it shorter with the hidden -stats-every).
	StatsEvery time.Duration
	// SMTPCAs (-smtp-ca) are the CAs the SMTP server's certificate is
	// checked against (nil: the system's).
	SMTPCAs *x509.CertPool
	// BindAny (-bind-any) makes a triad member listen on every address,
	// as a lone server does, instead of its SERVER host's own.
	BindAny bool

	// ClusterKeyFile is -cluster-key: the triad's shared secret
	// (lmutil lmkeygen -cluster); a triad member needs it. ClusterKey,
	// when set (tests), is used instead.
	ClusterKeyFile string
	ClusterKey     *clusterkey.Key
	// StateDir is -state: where a triad member keeps its raft log
	// (default: see stateDir).
	StateDir string
	// NoFsync (-no-fsync) writes the raft log without waiting for the disk:
	// an acknowledged grant then survives any process crash but not a power
	// cut of two members at once (docs/triad.md §6).
	NoFsync bool
	// MaxClockSkew (-max-clock-skew) is the largest difference between
	// members' wall clocks before the skewed member is kept out of the
	// quorum (DSLS tolerates one hour). Expiry and start dates are decided
	// by the master alone.
	MaxClockSkew time.Duration
	// WallClock, when set (tests), is the wall clock members compare.
	WallClock func() time.Time
	// Clock is the clock of the triad's ticks and leases (CLOCK_BOOTTIME ns,
	// the same in every process of the machine); nil means the real one.
	Clock func() int64

	// VendordPath overrides where the vendor daemon binary is found
	// (the VENDOR line's path, else beside lmgrd, else $PATH).
	VendordPath string

	// MaxConnections is passed to the vendor daemons (FlexNet's
	// MAX_CONNECTIONS); 0 lets each derive it from its descriptor limit.
	MaxConnections int
	// MaxConnectionsPerHost is passed to the vendor daemons: one source
	// address's share of their client connections (0: half of them;
	// negative: no share).
	MaxConnectionsPerHost int

	// ClientHeartbeatTimeout is passed to the vendor daemons: licenses of a
	// client silent this long are freed.
	ClientHeartbeatTimeout time.Duration
	// RestartBackoff is the first delay before restarting a crashed vendor
	// daemon; it doubles up to RestartBackoffMax and resets after a daemon
	// has run for a minute.
	RestartBackoff    time.Duration
	RestartBackoffMax time.Duration
	// RereadDelay gathers a burst of file events into one reread.
	RereadDelay time.Duration
	// GreetingTimeout bounds how long a new connection may take to say HELLO.
	GreetingTimeout time.Duration

	Logger *logrus.Logger
	// Hangups delivers SIGHUP (main): each reopens the debug log.
	Hangups <-chan os.Signal
	// Ready, when set (a detached lmgrd), is told "ready" once lmgrd
	// listens and has started its vendor daemons, or the error it stops
	// with, and closed.
	Ready *os.File
}

// NewOptions returns the defaults.
func NewOptions() Options {
	return Options{
		ClientHeartbeatTimeout: 2 * time.Minute,
		RestartBackoff:         250 * time.Millisecond,
		RestartBackoffMax:      30 * time.Second,
		RereadDelay:            200 * time.Millisecond, // well inside the 1 s promise
		GreetingTimeout:        10 * time.Second,
		MaxClockSkew:           time.Hour,
		RemoteAdmin:            hostid.AccessRestricted,
		NotifyRules:            notify.NewRules(),
	}
}

// Validate reports the first option that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.LicensePath == "":
		return errors.New("lmgrd: no license file: use -c PATH or set LM_LICENSE_FILE")
	case o.RestartBackoff <= 0 || o.RestartBackoffMax < o.RestartBackoff:
		return errors.New("lmgrd: restart backoff must be positive and below its maximum")
	case o.GreetingTimeout <= 0:
		return errors.New("lmgrd: greeting timeout must be positive")
	case o.SMTP != "" && (o.MailFrom == "" || len(o.MailTo) == 0):
		return errors.New("lmgrd: -smtp needs -mail-from and -mail-to")
	case (o.HTTPCert == "") != (o.HTTPKey == ""):
		return errors.New("lmgrd: -http-cert and -http-key go together")
	case o.MaxClockSkew < 0:
		return errors.New("lmgrd: -max-clock-skew must not be negative")
	}
	if err := o.NotifyRules.Validate(); err != nil {
		return fmt.Errorf("lmgrd: %w", err)
	}
	if o.Webhook != "" {
		if err := notify.CheckWebhookURL(o.Webhook); err != nil {
			return fmt.Errorf("lmgrd: -webhook: %w", err)
		}
	}
	if o.VendorKeys != "" {
		if _, err := licsign.LoadPublicKeys(o.VendorKeys); err != nil {
			return fmt.Errorf("lmgrd: -vendor-keys: %w", err)
		}
	}
	if _, err := licsign.Builtin(); err != nil {
		return fmt.Errorf("lmgrd: %w", err)
	}
	for _, v := range o.Unsigned {
		if v == "" || strings.ContainsAny(v, " \t,") {
			return fmt.Errorf("lmgrd: -unsigned %q: want a vendor name", v)
		}
	}
	return nil
}

// unsigned reports whether -unsigned names vendor.
func (o *Options) unsigned(vendor string) bool {
	return slices.Contains(o.Unsigned, vendor)
}

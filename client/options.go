package client

import (
	"context"
	"net"
	"os"
	"os/user"
	"time"

	"github.com/sirupsen/logrus"
)

// Options configure a Client. Zero fields take the defaults of NewOptions.
type Options struct {
	// Vendor is the vendor daemon name. When empty, lmgrd picks the vendor
	// that serves the requested feature.
	Vendor string
	// LicensePath, when set, is used instead of <VENDOR>_LICENSE_FILE and
	// LM_LICENSE_FILE: files, directories, port@host, @host and triads.
	LicensePath string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string

	// Identity reported to the server and shown by lmstat.
	User, Host, Display string
	PID                 int
	// Project is FlexLM's LM_PROJECT (the options file's PROJECT lines);
	// NewOptions takes it from the environment.
	Project string

	// HeartbeatInterval is how often a connection with licenses says it is
	// alive; the server frees the licenses of a client silent for longer
	// than its timeout (2 minutes by default).
	HeartbeatInterval time.Duration
	// DialTimeout bounds each connection attempt to one server, so a dead
	// first server of a triad costs this, not FlexLM's 10 s.
	DialTimeout time.Duration
	// RequestTimeout bounds each request once connected.
	RequestTimeout time.Duration
	// RetryInterval is the pause between rounds of reconnect attempts after
	// a connection is lost.
	RetryInterval time.Duration

	// BorrowFile is the borrow file (lmborrow): its intents turn checkouts
	// into borrows, and its borrowed licenses are used without asking the
	// server. Empty means DefaultBorrowFile: LM_BORROW_FILE, else
	// $HOME/.lmtriad/borrow.json; "none" means no borrowing.
	BorrowFile string

	// Dial opens connections; nil means a net.Dialer.
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Logger logrus.FieldLogger
	// OnQueued, when set, is told the handle under which the server queued
	// a CheckoutQueued request (again with the new handle if a reconnect
	// queued it anew).
	OnQueued func(feature string, handle uint64)
}

// NewOptions returns the defaults, with this process's identity.
func NewOptions() Options {
	o := Options{
		HeartbeatInterval: 30 * time.Second,
		DialTimeout:       time.Second,
		RequestTimeout:    10 * time.Second,
		RetryInterval:     200 * time.Millisecond,
		PID:               os.Getpid(),
		Display:           "/dev/tty",
	}
	if u, err := user.Current(); err == nil {
		o.User = u.Username
	}
	o.Host, _ = os.Hostname()
	if d := os.Getenv("DISPLAY"); d != "" {
		o.Display = d
	}
	o.Project = os.Getenv("LM_PROJECT")
	return o
}

func (o Options) withDefaults() Options {
	d := NewOptions()
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.User == "" {
		o.User = d.User
	}
	if o.Host == "" {
		o.Host = d.Host
	}
	if o.Display == "" {
		o.Display = d.Display
	}
	if o.PID == 0 {
		o.PID = d.PID
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = d.HeartbeatInterval
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = d.DialTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = d.RetryInterval
	}
	switch o.BorrowFile {
	case "":
		o.BorrowFile = DefaultBorrowFile(o.Getenv)
	case "none":
		o.BorrowFile = ""
	}
	if o.Dial == nil {
		var nd net.Dialer
		o.Dial = nd.DialContext
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		o.Logger = l
	}
	return o
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

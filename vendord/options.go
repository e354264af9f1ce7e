package main

import (
	"errors"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// Options configure one vendor daemon.
type Options struct {
	Vendor      string   // the VENDOR line's name; only its features are served
	LicensePath string   // license file, directory or search path (licfile rules)
	Handoff     *os.File // lmgrd's end-of-pipe for handed-off clients and control; nil when run alone
	DirectPort  int      // the VENDOR line's port=: clients may also connect here directly
	ServerHost  string   // SERVER line host, shown in lmstat's "(host/port handle)"
	ServerPort  int      // lmgrd's port, likewise

	// Servers are the triad's SERVER lines as host:port in file order and
	// Rank is this server's index among them; empty for a lone server.
	// The master replicates its license table to the others' daemons.
	Servers []string
	Rank    int

	// HeartbeatTimeout frees the licenses of a client that has sent nothing
	// (no request, no heartbeat) for this long; its connection is closed.
	HeartbeatTimeout time.Duration
	// ExpireEvery is how often silent clients and expired lines are looked for.
	ExpireEvery time.Duration

	// MaxConnections caps client connections, as FlexNet's MAX_CONNECTIONS;
	// 0 derives it from the descriptor limit. AdminReserve more are kept for
	// lmstat, lmdown and lmremove, so an admin always gets in.
	MaxConnections int
	AdminReserve   int

	LocalAdminOnly bool // lmgrd -local: remove/shutdown only from loopback peers
	NoRemove       bool // lmgrd -x lmremove
	NoDown         bool // lmgrd -x lmdown

	// Serving is the initial role. A lone server serves at once; a triad
	// member waits for lmgrd to say it is the master.
	Serving bool

	Logger logrus.FieldLogger
	Now    func() time.Time // the clock; nil means time.Now
}

// NewOptions returns the defaults.
func NewOptions() Options {
	return Options{
		HeartbeatTimeout: 2 * time.Minute, // four missed 30 s client heartbeats
		ExpireEvery:      time.Second,
		AdminReserve:     16,
		Serving:          true,
	}
}

// Validate reports the first option that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.Vendor == "":
		return errors.New("vendord: no vendor name")
	case o.LicensePath == "":
		return errors.New("vendord: no license path")
	case o.HeartbeatTimeout <= 0:
		return errors.New("vendord: heartbeat timeout must be positive")
	case len(o.Servers) != 0 && len(o.Servers) != 3:
		return errors.New("vendord: a triad has three servers")
	case len(o.Servers) == 3 && (o.Rank < 0 || o.Rank > 2):
		return errors.New("vendord: rank must be 0, 1 or 2")
	case o.MaxConnections < 0 || o.AdminReserve < 0:
		return errors.New("vendord: connection limits must not be negative")
	case o.ExpireEvery <= 0:
		return errors.New("vendord: expire interval must be positive")
	}
	return nil
}

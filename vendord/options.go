package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/lmtriad/lmtriad/vendorctl"
)

// Options configure one vendor daemon: the command line lmgrd gives it
// (vendorctl.Args) and what the process or a test supplies.
type Options struct {
	vendorctl.Args

	// Handoff is lmgrd's end-of-pipe for handed-off clients and control;
	// nil when run alone.
	Handoff *os.File

	// ExpireEvery is how often silent clients and expired lines are looked for.
	ExpireEvery time.Duration
	// ReportFlushEvery is how often the report log's buffer is written
	// (0: every second).
	ReportFlushEvery time.Duration

	// AdminReserve is how many connections beyond the client limit are kept
	// for lmstat, lmdown and lmremove, so an admin always gets in.
	AdminReserve int

	Logger logrus.FieldLogger
	Now    func() time.Time // the wall clock of license dates and usage logs; nil means time.Now
	// Monotonic is the clock heartbeat timeouts run on: it never steps, so a
	// wall-clock step (NTP, a resumed VM) frees nobody. Nil means the time
	// since the daemon started, on Go's monotonic clock.
	Monotonic func() time.Duration
	// LeaseClock is the clock lmgrd's lease deadlines are on (CLOCK_BOOTTIME
	// ns, the same in every process of the machine); nil means handoff.BootTimeNow.
	LeaseClock func() int64
}

// NewOptions returns the defaults.
func NewOptions() Options {
	return Options{
		Args:         vendorctl.Args{HandoffFD: -1, HeartbeatTimeout: vendorctl.DefaultHeartbeatTimeout},
		ExpireEvery:  time.Second,
		AdminReserve: 16,
		LeaseClock:   handoff.BootTimeNow,
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
	case o.Triad && o.Handoff == nil:
		return errors.New("vendord: a triad member's daemon needs lmgrd's handoff channel")
	case o.MaxConnections < 0 || o.AdminReserve < 0:
		return errors.New("vendord: connection limits must not be negative")
	case o.ExpireEvery <= 0:
		return errors.New("vendord: expire interval must be positive")
	}
	// A built-in key that does not parse (a bad -X licsign.BuiltinKeys)
	// stops the daemon at start, not at its first license check.
	if _, err := licsign.Builtin(); err != nil {
		return fmt.Errorf("vendord: %w", err)
	}
	return nil
}

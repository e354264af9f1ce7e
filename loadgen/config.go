package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Modes of a run.
const (
	ModeHold   = "hold"   // N clients each hold one license, heartbeating
	ModeChurn  = "churn"  // C workers do checkout+checkin pairs for a duration
	ModeLmstat = "lmstat" // N holders, then time lmutil lmstat -a
)

// Config is one load-generator run. NewConfig gives the defaults.
type Config struct {
	Mode string

	// Server is the license server as port@host. Only loopback hosts are
	// accepted: loadgen is a benchmark, not a tool to point at production.
	Server  string
	Vendor  string
	Feature string
	Version string

	// Clients is the number of holders (hold, lmstat).
	Clients int
	// Concurrency is the number of workers, each a client with its own
	// connection, doing checkout+checkin pairs back to back (churn).
	Concurrency int
	// Duration is how long the churn lasts.
	Duration time.Duration
	// Rate, when positive, paces the churn to this many pairs per second
	// over all workers (each worker starts a pair every Concurrency/Rate
	// seconds), to measure latency below saturation. Zero: back to back.
	Rate float64
	// Hold is how long the holders keep their licenses once all are in,
	// heartbeating; the server's CPU over that time is reported. Longer
	// than HeartbeatInterval to see a round of heartbeats.
	Hold time.Duration
	// Settle is the pause between the last connect and the memory reading.
	Settle time.Duration

	// ConnectConcurrency bounds the connects in flight, so that a burst
	// does not overflow the listen backlog (each dropped SYN costs a 1 s
	// retransmit).
	ConnectConcurrency int
	// SourceIPs spreads the clients' local addresses over 127.0.0.1 ..
	// 127.0.0.N: one source address has only ~28,000 ephemeral ports
	// towards one server port.
	SourceIPs int

	// HeartbeatInterval of every client; 0 is the client library's default
	// (30 s).
	HeartbeatInterval time.Duration
	// DialTimeout of every client; longer than the library's 1 s default,
	// which a connect burst can exceed on a loaded 2-core machine.
	DialTimeout time.Duration
	// Timeout bounds the whole run.
	Timeout time.Duration

	// LmgrdPID is lmgrd's pid: it and its children (the vendor daemons)
	// are the server whose memory, descriptors and CPU are reported.
	LmgrdPID int
	// PIDs, when set, are the server processes instead.
	PIDs []int

	// Lmutil is the lmutil binary (lmstat mode); LmstatRuns how often it
	// is run.
	Lmutil     string
	LmstatRuns int

	// UserPrefix starts every simulated user's name.
	UserPrefix string

	Out io.Writer
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		Mode:               ModeChurn,
		Server:             "27000@127.0.0.1",
		Vendor:             "demo",
		Feature:            "bench",
		Version:            "1.0",
		Clients:            1000,
		Concurrency:        100,
		Duration:           10 * time.Second,
		Settle:             2 * time.Second,
		ConnectConcurrency: 128,
		SourceIPs:          1,
		DialTimeout:        15 * time.Second,
		Timeout:            15 * time.Minute,
		Lmutil:             "lmutil",
		LmstatRuns:         5,
		UserPrefix:         "lg",
		Out:                io.Discard,
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch c.Mode {
	case ModeHold, ModeChurn, ModeLmstat:
	default:
		return fmt.Errorf("loadgen: unknown mode %q (hold, churn or lmstat)", c.Mode)
	}
	if _, err := c.addr(); err != nil {
		return err
	}
	switch {
	case c.Vendor == "" || c.Feature == "":
		return errors.New("loadgen: vendor and feature are required")
	case (c.Mode == ModeHold || c.Mode == ModeLmstat) && c.Clients < 1:
		return errors.New("loadgen: clients must be at least 1")
	case c.Mode == ModeChurn && c.Concurrency < 1:
		return errors.New("loadgen: concurrency must be at least 1")
	case c.Rate < 0:
		return errors.New("loadgen: rate must not be negative")
	case c.Mode == ModeChurn && c.Duration <= 0:
		return errors.New("loadgen: duration must be positive")
	case c.ConnectConcurrency < 1:
		return errors.New("loadgen: connect concurrency must be at least 1")
	case c.SourceIPs < 1 || c.SourceIPs > 254:
		return errors.New("loadgen: source IPs must be 1..254")
	case c.Timeout <= 0:
		return errors.New("loadgen: timeout must be positive")
	case c.Mode == ModeLmstat && c.LmstatRuns < 1:
		return errors.New("loadgen: lmstat runs must be at least 1")
	}
	return nil
}

// addr turns Server (port@host) into host:port, refusing anything but a
// loopback address.
func (c *Config) addr() (string, error) {
	port, host, ok := strings.Cut(c.Server, "@")
	if !ok {
		return "", fmt.Errorf("loadgen: server %q: want port@host", c.Server)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("loadgen: server %q: bad port", c.Server)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("loadgen: server %q: only loopback addresses (127.0.0.1) are allowed", c.Server)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

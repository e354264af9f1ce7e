// Command loadgen drives an lmtriad server through the real client library
// and reports throughput, latency percentiles and the server's memory and
// descriptors. It talks to loopback addresses only. See docs/performance.md
// and scripts/bench-load.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	if err := newApp(os.Stdout, os.Stderr).Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// newApp builds the command line; errors come back from Run.
func newApp(stdout, stderr io.Writer) *cli.App {
	d := NewConfig()
	return &cli.App{
		Name:      "loadgen",
		Usage:     "load generator for lmtriad: hold, churn, lmstat",
		UsageText: "loadgen -mode hold|churn|lmstat [options]",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "mode", Value: d.Mode, Usage: "hold: N holders; churn: C workers doing checkout+checkin; lmstat: N holders, then time lmstat -a"},
			&cli.StringFlag{Name: "c", Value: d.Server, Usage: "server `port@host` (loopback only)"},
			&cli.StringFlag{Name: "vendor", Value: d.Vendor},
			&cli.StringFlag{Name: "feature", Value: d.Feature},
			&cli.StringFlag{Name: "version", Value: d.Version},
			&cli.IntFlag{Name: "clients", Value: d.Clients, Usage: "holders (hold, lmstat)"},
			&cli.IntFlag{Name: "concurrency", Value: d.Concurrency, Usage: "workers (churn)"},
			&cli.DurationFlag{Name: "duration", Value: d.Duration, Usage: "churn duration"},
			&cli.Float64Flag{Name: "rate", Usage: "pace the churn to this many pairs/s in all (0: back to back)"},
			&cli.DurationFlag{Name: "hold", Value: d.Hold, Usage: "keep the holders this long, heartbeating, and report the server's CPU"},
			&cli.DurationFlag{Name: "settle", Value: d.Settle, Usage: "pause before reading the server's memory"},
			&cli.IntFlag{Name: "connect-concurrency", Value: d.ConnectConcurrency, Usage: "connects in flight"},
			&cli.IntFlag{Name: "source-ips", Value: d.SourceIPs, Usage: "spread local addresses over 127.0.0.1..N"},
			&cli.DurationFlag{Name: "heartbeat", Value: d.HeartbeatInterval, Usage: "client heartbeat interval (0: the library's 30 s)"},
			&cli.DurationFlag{Name: "dial-timeout", Value: d.DialTimeout},
			&cli.DurationFlag{Name: "timeout", Value: d.Timeout, Usage: "bound on the whole run"},
			&cli.IntFlag{Name: "lmgrd-pid", Usage: "lmgrd's `PID`: it and its children are measured"},
			&cli.StringFlag{Name: "pids", Usage: "comma-separated server `PIDS` to measure instead"},
			&cli.StringFlag{Name: "lmutil", Value: d.Lmutil, Usage: "lmutil binary (lmstat mode)"},
			&cli.IntFlag{Name: "lmstat-runs", Value: d.LmstatRuns},
			&cli.StringFlag{Name: "user-prefix", Value: d.UserPrefix},
		},
		Action: func(c *cli.Context) error {
			cfg := NewConfig()
			cfg.Mode = c.String("mode")
			cfg.Server = c.String("c")
			cfg.Vendor = c.String("vendor")
			cfg.Feature = c.String("feature")
			cfg.Version = c.String("version")
			cfg.Clients = c.Int("clients")
			cfg.Concurrency = c.Int("concurrency")
			cfg.Duration = c.Duration("duration")
			cfg.Rate = c.Float64("rate")
			cfg.Hold = c.Duration("hold")
			cfg.Settle = c.Duration("settle")
			cfg.ConnectConcurrency = c.Int("connect-concurrency")
			cfg.SourceIPs = c.Int("source-ips")
			cfg.HeartbeatInterval = c.Duration("heartbeat")
			cfg.DialTimeout = c.Duration("dial-timeout")
			cfg.Timeout = c.Duration("timeout")
			cfg.LmgrdPID = c.Int("lmgrd-pid")
			cfg.Lmutil = c.String("lmutil")
			cfg.LmstatRuns = c.Int("lmstat-runs")
			cfg.UserPrefix = c.String("user-prefix")
			cfg.Out = c.App.Writer
			for _, p := range strings.FieldsFunc(c.String("pids"), func(r rune) bool { return r == ',' }) {
				pid, err := strconv.Atoi(strings.TrimSpace(p))
				if err != nil {
					return fmt.Errorf("-pids: %q is not a pid", p)
				}
				cfg.PIDs = append(cfg.PIDs, pid)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			_, err := Run(ctx, cfg)
			return err
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main reports errors
	}
}

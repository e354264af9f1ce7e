// Command vendord is the vendor daemon: it counts and grants one vendor's
// licenses. lmgrd starts one per VENDOR line and hands it client connections.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/flexlog"
)

func main() {
	app := &cli.App{
		Name:  "vendord",
		Usage: "vendor daemon: counts and grants one vendor's licenses",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vendor", Required: true, Usage: "vendor `NAME` (the VENDOR line's name)"},
			&cli.StringFlag{Name: "c", Required: true, Usage: "license file, directory or search `PATH`"},
			&cli.IntFlag{Name: "handoff-fd", Value: -1, Usage: "inherited `FD` of lmgrd's handoff channel"},
			&cli.IntFlag{Name: "port", Usage: "direct TCP `PORT` (the VENDOR line's port=)"},
			&cli.StringFlag{Name: "server-host", Usage: "the SERVER line host this daemon serves under (for lmstat)"},
			&cli.IntFlag{Name: "server-port", Usage: "lmgrd's port (for lmstat)"},
			&cli.DurationFlag{Name: "heartbeat-timeout", Value: NewOptions().HeartbeatTimeout, Usage: "free licenses of clients silent this long"},
			&cli.IntFlag{Name: "max-connections", Usage: "cap on client connections (0: from the descriptor limit)"},
			&cli.BoolFlag{Name: "local", Usage: "refuse lmremove and shutdown from non-loopback peers"},
			&cli.BoolFlag{Name: "no-remove", Usage: "disable lmremove (lmgrd -x lmremove)"},
			&cli.StringFlag{Name: "servers", Usage: "the triad's SERVER lines as host:port,host:port,host:port"},
			&cli.IntFlag{Name: "rank", Usage: "this server's index among -servers"},
			&cli.BoolFlag{Name: "standby", Usage: "start without serving until lmgrd says this server is the master"},
			&cli.BoolFlag{Name: "no-down", Usage: "disable shutdown requests (lmgrd -x lmdown)"},
		},
		Action: func(c *cli.Context) error {
			opts := NewOptions()
			opts.Vendor = c.String("vendor")
			opts.LicensePath = c.String("c")
			opts.DirectPort = c.Int("port")
			opts.ServerHost = c.String("server-host")
			opts.ServerPort = c.Int("server-port")
			opts.HeartbeatTimeout = c.Duration("heartbeat-timeout")
			opts.LocalAdminOnly = c.Bool("local")
			opts.MaxConnections = c.Int("max-connections")
			opts.NoRemove = c.Bool("no-remove")
			opts.NoDown = c.Bool("no-down")
			opts.Serving = !c.Bool("standby")
			if sv := c.String("servers"); sv != "" {
				opts.Servers = strings.Split(sv, ",")
			}
			opts.Rank = c.Int("rank")
			logOut := flexlog.NewBufferedWriter(os.Stdout, 100*time.Millisecond)
			defer logOut.Close()
			opts.Logger = flexlog.New(logOut, opts.Vendor)
			if fd := c.Int("handoff-fd"); fd >= 0 {
				opts.Handoff = os.NewFile(uintptr(fd), "handoff")
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return Run(ctx, opts)
		},
	}
	if err := app.RunContext(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "vendord:", err)
		os.Exit(exitCode(err))
	}
}

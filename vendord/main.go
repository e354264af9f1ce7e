// Command vendord is the vendor daemon: it counts and grants one vendor's
// licenses. lmgrd starts one per VENDOR line and hands it client connections;
// its command line and messages are package vendorctl.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/vendorctl"
)

func main() {
	app := &cli.App{
		Name:  "vendord",
		Usage: "vendor daemon: counts and grants one vendor's licenses",
		Flags: vendorctl.Flags(),
		Action: func(c *cli.Context) error {
			opts := NewOptions()
			opts.Args = vendorctl.FromCLI(c)
			logOut := flexlog.NewBufferedWriter(os.Stdout, 100*time.Millisecond)
			defer logOut.Close()
			opts.Logger = flexlog.New(logOut, opts.Vendor)
			if opts.HandoffFD >= 0 {
				opts.Handoff = os.NewFile(uintptr(opts.HandoffFD), "handoff")
			}
			// A hangup (a closed terminal, a signal meant for lmgrd's log)
			// must not stop a vendor daemon: its output goes through lmgrd.
			signal.Ignore(syscall.SIGHUP)
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

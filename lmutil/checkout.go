package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

// checkoutCommand gates a command on a license: scripts and CI jobs run
// `lmutil checkout solver -- make test`.
func checkoutCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "hold licenses while a command runs",
		UsageText: "lmutil checkout [-c PATH] [-v VERSION] [-n COUNT] [-vendor NAME] FEATURE -- COMMAND [ARGS...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Usage: "license `PATH` (else <VENDOR>_LICENSE_FILE, LM_LICENSE_FILE)"},
			&cli.StringFlag{Name: "v", Usage: "minimum `VERSION`"},
			&cli.IntFlag{Name: "n", Value: 1, Usage: "number of licenses"},
			&cli.StringFlag{Name: "vendor", Usage: "vendor daemon `NAME` (else the one serving FEATURE)"},
			&cli.DurationFlag{Name: "wait", Usage: "keep trying this long while the server is away (a failover) or, with -queue, all licenses are in use"},
			&cli.BoolFlag{Name: "queue", Usage: "with -wait: also wait for a license to be free (-4)"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) >= 2 && args[1] == "--" {
				args = append(args[:1], args[2:]...)
			}
			if len(args) < 2 {
				return cli.Exit("usage: "+c.Command.UsageText, 2)
			}
			feature, command := args[0], args[1:]
			opts := client.NewOptions()
			opts.Vendor = c.String("vendor")
			opts.LicensePath = c.String("c")
			opts.Getenv = env.getenv
			cl, err := client.New(opts)
			if err != nil {
				return err
			}
			defer cl.Close()
			lic, err := checkoutWaiting(c.Context, cl, feature, c.String("v"), c.Int("n"), c.Duration("wait"), c.Bool("queue"))
			if err != nil {
				return cli.Exit(fmt.Sprintf("lmutil checkout: %s: %v", feature, err), 1)
			}
			fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s checked out from %s (handle %d)\n", feature, lic.Server(), lic.Handle())
			go func() {
				for ev := range lic.Events() {
					if ev.Err != nil {
						fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s license %v: %v\n", feature, ev.Kind, ev.Err)
					} else {
						fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s license %v\n", feature, ev.Kind)
					}
				}
			}()
			status := runCommand(command, c.App.Writer, c.App.ErrWriter)
			if err := lic.Checkin(); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: checkin: %v\n", err)
			}
			if status != 0 {
				return cli.Exit("", status)
			}
			return nil
		},
	}
}

// runCommand runs the gated command, passing on SIGINT and SIGTERM, and
// returns its exit status (128+signal when it was killed).
func runCommand(argv []string, stdout, stderr interface{ Write([]byte) (int, error) }) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "lmutil checkout: %v\n", err)
		return 127
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ee.ExitCode()
			}
			if err != nil {
				return 1
			}
			return 0
		}
	}
}

// checkoutWaiting checks out, trying again for up to wait while the server
// is away (a triad between masters) or, with queue, while every license is
// in use: a CI job waits for its license instead of failing.
func checkoutWaiting(ctx context.Context, cl *client.Client, feature, version string, n int, wait time.Duration, queue bool) (*client.License, error) {
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for {
		lic, err := cl.Checkout(ctx, feature, version, n)
		if err == nil || wait <= 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return lic, err
		}
		if !client.ServerAway(err) && !(queue && errors.Is(err, wire.ErrMaxUsers)) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(min(pause, time.Until(deadline))):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/client"
)

// checkoutCommand gates a command on a license: scripts and CI jobs run
// `lmutil checkout solver -- make test`.
func checkoutCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "hold licenses while a command runs",
		UsageText: "lmutil checkout [-c PATH] [-v VERSION] [-n COUNT] [-vendor NAME] [-wait DURATION] [-queue] [-revoke-signal SIG] [-revoke-grace DURATION] FEATURE -- COMMAND [ARGS...]",
		Description: "Runs COMMAND while holding the licenses. If the server revokes them (lmremove,\n" +
			"an lmreread that removes or lowers the feature, a heartbeat timeout), COMMAND\n" +
			"gets -revoke-signal, then SIGKILL if it is still running after -revoke-grace,\n" +
			"and lmutil exits 1 after printing the FlexLM error.\n" +
			"With -queue, when every license is in use the request waits in the server's\n" +
			"queue (FIFO per feature; \"queued for FEATURE (handle N)\" on stderr) until it\n" +
			"is granted, for at most -wait when given.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Usage: "license `PATH` (else <VENDOR>_LICENSE_FILE, LM_LICENSE_FILE)"},
			&cli.StringFlag{Name: "v", Usage: "minimum `VERSION`"},
			&cli.IntFlag{Name: "n", Value: 1, Usage: "number of licenses"},
			&cli.StringFlag{Name: "vendor", Usage: "vendor daemon `NAME` (else the one serving FEATURE)"},
			&cli.DurationFlag{Name: "wait", Usage: "keep trying this long while the server is away (a failover) or, with -queue, all licenses are in use"},
			&cli.BoolFlag{Name: "queue", Usage: "wait in the server's queue while every license is in use (for at most -wait, when given)"},
			&cli.StringFlag{Name: "revoke-signal", Value: "TERM", Usage: "`SIGNAL` sent to the command when the server revokes the license (TERM, INT, HUP, KILL, ... or a number)"},
			&cli.DurationFlag{Name: "revoke-grace", Value: 10 * time.Second, Usage: "after a revocation, how long the command may run after -revoke-signal before SIGKILL"},
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
			revokeSig, err := parseSignal(c.String("revoke-signal"))
			if err != nil {
				return cli.Exit("lmutil checkout: -revoke-signal: "+err.Error(), 2)
			}
			opts := client.NewOptions()
			opts.Vendor = c.String("vendor")
			opts.LicensePath = c.String("c")
			opts.Getenv = env.getenv
			opts.OnQueued = func(feature string, handle uint64) {
				fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: queued for %s (handle %d)\n", feature, handle)
			}
			cl, err := client.New(opts)
			if err != nil {
				return err
			}
			defer cl.Close()
			var lic *client.License
			if c.Bool("queue") {
				lic, err = checkoutQueued(c.Context, cl, feature, c.String("v"), c.Int("n"), c.Duration("wait"))
			} else {
				lic, err = checkoutWaiting(c.Context, cl, feature, c.String("v"), c.Int("n"), c.Duration("wait"))
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("lmutil checkout: %s: %v", feature, err), 1)
			}
			if lic.Borrowed() {
				fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s borrowed from %s (handle %d) until %s\n", feature, lic.Server(), lic.Handle(),
					lic.BorrowedUntil().Local().Format(borrowLayout))
			} else {
				fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s checked out from %s (handle %d)\n", feature, lic.Server(), lic.Handle())
			}
			revoked := make(chan error, 1)
			go func() {
				for ev := range lic.Events() {
					if ev.Err != nil {
						fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s license %v: %v\n", feature, ev.Kind, ev.Err)
					} else {
						fmt.Fprintf(c.App.ErrWriter, "lmutil checkout: %s license %v\n", feature, ev.Kind)
					}
					if ev.Kind == client.Revoked {
						select {
						case revoked <- ev.Err:
						default:
						}
					}
				}
			}()
			status, rerr := runCommand(command, c.App.Writer, c.App.ErrWriter, revoked, revokeSig, c.Duration("revoke-grace"))
			if rerr != nil {
				_ = lic.Checkin() // nothing is sent: the server freed it
				return cli.Exit(fmt.Sprintf("lmutil checkout: %s: license revoked, command stopped: %v", feature, rerr), 1)
			}
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
// returns its exit status (128+signal when it was killed). When revoked
// delivers an error the command gets sig, then SIGKILL after grace, and
// that error is returned with the status.
func runCommand(argv []string, stdout, stderr interface{ Write([]byte) (int, error) }, revoked <-chan error, sig syscall.Signal, grace time.Duration) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "lmutil checkout: %v\n", err)
		return 127, nil
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var (
		revokeErr error
		kill      <-chan time.Time
	)
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-revoked:
			revoked = nil
			revokeErr = err
			fmt.Fprintf(stderr, "lmutil checkout: license revoked, sending %v to the command (SIGKILL in %v)\n", sig, grace)
			_ = cmd.Process.Signal(sig)
			t := time.NewTimer(grace)
			defer t.Stop()
			kill = t.C
		case <-kill:
			kill = nil
			_ = cmd.Process.Kill()
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), revokeErr
				}
				return ee.ExitCode(), revokeErr
			}
			if err != nil {
				return 1, revokeErr
			}
			return 0, revokeErr
		}
	}
}

// parseSignal reads a signal name (TERM, SIGTERM, term) or number.
func parseSignal(name string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "TERM":
		return syscall.SIGTERM, nil
	case "INT":
		return syscall.SIGINT, nil
	case "HUP":
		return syscall.SIGHUP, nil
	case "KILL":
		return syscall.SIGKILL, nil
	case "QUIT":
		return syscall.SIGQUIT, nil
	case "USR1":
		return syscall.SIGUSR1, nil
	case "USR2":
		return syscall.SIGUSR2, nil
	}
	return 0, fmt.Errorf("unknown signal %q", name)
}

// checkoutQueued waits in the server's queue (FlexLM's LM_CO_QUEUE) for
// up to wait, or for as long as it takes when wait is 0: a CI job waits
// for its license, in turn, instead of failing.
func checkoutQueued(ctx context.Context, cl *client.Client, feature, version string, n int, wait time.Duration) (*client.License, error) {
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	return cl.CheckoutQueued(ctx, feature, version, n)
}

// checkoutWaiting checks out, trying again for up to wait while the server
// is away (a triad between masters).
func checkoutWaiting(ctx context.Context, cl *client.Client, feature, version string, n int, wait time.Duration) (*client.License, error) {
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for {
		lic, err := cl.Checkout(ctx, feature, version, n)
		if err == nil || wait <= 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return lic, err
		}
		if !client.ServerAway(err) {
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

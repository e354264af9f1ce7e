package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/client"
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
			lic, err := cl.Checkout(c.Context, feature, c.String("v"), c.Int("n"))
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

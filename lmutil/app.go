package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// newApp builds lmutil's command tree. Output goes to stdout and stderr, and
// errors come back from Run instead of ending the process: run turns them
// into exit codes, so tests can call it.
func newApp(stdout, stderr io.Writer, env *environment) *cli.App {
	app := &cli.App{
		Name:      "lmutil",
		Usage:     "FlexLM-compatible license utilities",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			lmstatCommand(env),
			lmdownCommand(env),
			lmrereadCommand(env),
			lmenrollCommand(env),
			lmremoveCommand(env),
			lmrecycleCommand(env),
			lmhostidCommand(env),
			lmcksumCommand(),
			lmverCommand(),
			checkoutCommand(env),
			lmkeygenCommand(),
			lmcryptCommand(),
			lmpasswdCommand(env),
			lmswitchrCommand(env),
			lmdiagCommand(env),
			lmswitchCommand(env),
			lmnotifyCommand(env),
			lmreportCommand(env),
			lmpathCommand(env),
			lmnewlogCommand(env),
			lmborrowCommand(env),
		},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "man", Usage: "print the manual page of lmutil and its commands (troff) and exit"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("man") {
				page, err := c.App.ToManWithSection(1)
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, page)
				return nil
			}
			if c.NArg() > 0 {
				name := c.Args().First()
				if why, ok := notOffered[name]; ok {
					return fmt.Errorf("%s is not offered by this license manager: %s (see lmutil help)", name, why)
				}
				return fmt.Errorf("unknown command %q (see lmutil help)", name)
			}
			return cli.ShowAppHelp(c)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors
	}
	app.OnUsageError = onUsageError(app.Name)
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError(app.Name + " " + c.Name)
	}
	return app
}

// notOffered are FlexLM's lmutil commands this license manager does not
// have, with what to use instead.
var notOffered = map[string]string{
	"lminstall":      "license files here are plain text; lmcrypt signs them and lmcksum checks them",
	"lmlicvalidator": "lmcksum -vendor-keys checks signatures, and a server refuses a bad line with its file:line",
	"lmborrowl":      "use lmborrow",
	"lmtools":        "there is no GUI; lmutil has the same commands",
}

// onUsageError reports a command line that cli could not parse for the
// command named name.
func onUsageError(name string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		fmt.Fprintf(c.App.ErrWriter, "Incorrect Usage: %v\nSee: %s -h\n", err, name)
		return usageError{err}
	}
}

// usageError is a command line that cli could not parse; it has been
// reported already.
type usageError struct{ error }

// exitError ends lmutil with code after its command printed its own report.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run runs lmutil with args (args[0] is the program name) and returns the
// process exit code. When args[0] names a subcommand, as a link named
// lmcksum or lmstat does, that subcommand runs with the remaining arguments.
func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(args, stdout, stderr, defaultEnvironment(programName(args)))
}

// runEnv is run with the process's environment injected.
func runEnv(args []string, stdout, stderr io.Writer, env *environment) int {
	app := newApp(stdout, stderr, env)
	args = optionalValues(linkArgs(app, args))
	err := app.Run(args)
	var ee exitError
	var ue usageError
	var coder cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return 1
	case errors.As(err, &coder):
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return coder.ExitCode()
	}
	fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
	return 1
}

// linkArgs rewrites "lmcksum -c f" into "lmutil lmcksum -c f" when the
// program was started through a link or copy named after a subcommand.
func linkArgs(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return []string{app.Name}
	}
	base := strings.TrimSuffix(filepath.Base(args[0]), ".exe")
	if base == app.Name || base == "help" {
		return args
	}
	for _, c := range app.Commands {
		if c.HasName(base) {
			return append([]string{app.Name, base}, args[1:]...)
		}
	}
	return args
}

func programName(args []string) string {
	if len(args) == 0 {
		return "lmutil"
	}
	return strings.TrimSuffix(filepath.Base(args[0]), ".exe")
}

// optionalValues lets lmstat's -f, -i and -S stand without a value, as
// FlexLM's do ("lmstat -f" lists every feature): a bare one gets the
// allFeatures marker.
func optionalValues(args []string) []string {
	if len(args) >= 2 && args[1] == "lmremove" {
		out := append([]string(nil), args...)
		for i, a := range out {
			if i > 1 && a == "-h" {
				out[i] = "-handle"
			}
		}
		return out
	}
	if len(args) < 2 || args[1] != "lmstat" {
		return args
	}
	out := append([]string(nil), args[:2]...)
	for i := 2; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "-f" || a == "-i" || a == "-S" {
			if i+1 == len(args) || strings.HasPrefix(args[i+1], "-") {
				out[len(out)-1] = a + "=" + allFeatures
			}
		}
	}
	return out
}

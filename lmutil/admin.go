package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/stats"
	"github.com/lmtriad/lmtriad/wire"
)

// environment is what the commands take from the process, injectable in tests.
type environment struct {
	argv0  string
	getenv func(string) string
	stdin  io.Reader
	clock  func() time.Time
	// environ lists the environment (lmpath -status); nil: os.Environ.
	environFunc func() []string
}

func (e *environment) environ() []string {
	if e.environFunc == nil {
		return os.Environ()
	}
	return e.environFunc()
}

func (e *environment) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock()
}

// program is the name to print in banners: the link's name when lmutil was
// called as lmstat, else def.
func (e *environment) program(def string) string {
	if e.argv0 == "lmstat" {
		return "lmstat"
	}
	return def
}

func lmdownCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmdown",
		Usage:     "shut down the license servers (all members of a triad)",
		UsageText: "lmdown [-c port@host] [-q] [-force] [-vendor NAME] [-self]",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
			&cli.BoolFlag{Name: "q", Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "force", Usage: "shut down even when licenses are held"},
			&cli.StringFlag{Name: "vendor", Usage: "stop only this vendor daemon; lmgrd keeps running"},
			&cli.BoolFlag{Name: "self", Usage: "stop only the one server -c names, not its whole triad"},
		},
		Action: func(c *cli.Context) error {
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			w := c.App.Writer
			if !c.Bool("q") {
				fmt.Fprintf(w, "Are you sure (y/n)? ")
				answer, _ := bufio.NewReader(env.stdin).ReadString('\n')
				if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(answer)), "y") {
					return cli.Exit("lmdown: not confirmed", 1)
				}
			}
			req := wire.New("DOWN")
			if v := c.String("vendor"); v != "" {
				req.Set("vendor", v)
			}
			if c.Bool("force") {
				req.Set("force", "1")
			}
			scope := "triad"
			if c.Bool("self") {
				scope = "self"
			}
			req.Set("scope", scope)
			// The first server that answers stops its whole triad (unless
			// -self), so one request is enough.
			var failed []string
			stopped := 0
			for _, hp := range t.servers {
				resp, _, err := adminCall(c.Context, hp, "", req)
				if err != nil {
					var we *wire.Error
					if errors.As(err, &we) && we.Code != wire.CodeCantConnect {
						return cli.Exit(fmt.Sprintf("lmdown: %d@%s: %v", hp.Port, hp.Host, err), 1)
					}
					failed = append(failed, fmt.Sprintf("%d@%s: %v", hp.Port, hp.Host, err))
					continue
				}
				stopped = 1
				if n, err := resp.Int("stopped"); err == nil {
					stopped = n
				}
				fmt.Fprintf(w, "Shutting down FlexNet-compatible license server on %d@%s\n", hp.Port, hp.Host)
				break
			}
			if stopped == 0 {
				return cli.Exit("lmdown: "+strings.Join(failed, "; "), 1)
			}
			fmt.Fprintf(w, "%d FlexNet-compatible License Server(s) shut down\n", stopped)
			return nil
		},
	}
}

func lmrereadCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmreread",
		Usage:     "make the license servers reread their license files",
		UsageText: "lmreread [-c port@host] [-vendor NAME]",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
			&cli.StringFlag{Name: "vendor", Usage: "reread only this vendor daemon"},
		},
		Action: func(c *cli.Context) error {
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			req := wire.New("REREAD")
			if v := c.String("vendor"); v != "" {
				req.Set("vendor", v)
			}
			done := 0
			var lastErr error
			for _, hp := range t.servers {
				if _, _, err := adminCall(c.Context, hp, "", req); err != nil {
					lastErr = err
					continue
				}
				done++
				fmt.Fprintf(c.App.Writer, "lmreread successful on %d@%s\n", hp.Port, hp.Host)
			}
			if done == 0 {
				return cli.Exit(fmt.Sprintf("lmreread: %v", lastErr), 1)
			}
			return nil
		},
	}
}

func lmremoveCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmremove",
		Usage:     "free one user's license",
		UsageText: "lmremove [-c port@host] feature user user_host display\n   lmremove [-c port@host] -h feature server_host port handle",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
			// FlexLM spells it -h; runEnv renames it, as cli keeps -h for help.
			&cli.BoolFlag{Name: "handle", Usage: "(-h) remove by handle: feature server_host port handle"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) != 4 {
				return cli.Exit("usage: "+c.Command.UsageText, 2)
			}
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			req := wire.New("REMOVE", "feature", args[0])
			if c.Bool("handle") {
				req.Set("handle", args[3])
			} else {
				req.Set("user", args[1])
				req.Set("host", args[2])
				req.Set("display", args[3])
			}
			return sendToMasterVendor(c, t, args[0], req, "lmremove", func(resp wire.Message) string {
				return fmt.Sprintf("%s license(s) of %s freed", resp.Get("removed"), args[0])
			})
		},
	}
}

func lmrecycleCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:  "lmrecycle",
		Usage: "free the seat of a named user of a USER_BASED or HOST_BASED feature",
		UsageText: "lmrecycle [-c port@host] feature user\n" +
			"   (user: the host for a HOST_BASED feature; the user must hold no license and\n" +
			"   have been last used 30 days ago or more)",
		Before: withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) != 2 {
				return cli.Exit("usage: "+c.Command.UsageText, 2)
			}
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			req := wire.New(wire.VerbRecycle, "feature", args[0], "user", args[1])
			return sendToMasterVendor(c, t, args[0], req, "lmrecycle", func(wire.Message) string {
				return fmt.Sprintf("named user %s of %s recycled", args[1], args[0])
			})
		},
	}
}

// sendToMasterVendor sends req to the vendor daemon serving feature, on
// whichever member of t is serving. The command's name prefixes its
// output: done's text, or the error.
func sendToMasterVendor(c *cli.Context, t target, feature string, req wire.Message, command string, done func(wire.Message) string) error {
	resp, err := callServingVendor(c.Context, t, "feature", feature, req)
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", command, err), 1)
	}
	fmt.Fprintf(c.App.Writer, "%s: %s\n", command, done(resp))
	return nil
}

// callServingVendor sends req to a vendor daemon, named by key ("vendor")
// or by a feature it serves (key "feature"), on whichever member of t
// answers: a member that cannot be reached or is not serving is passed
// over.
func callServingVendor(ctx context.Context, t target, key, value string, req wire.Message) (wire.Message, error) {
	resp, _, _, err := callFirstServer(ctx, t, key, value, req)
	return resp, err
}

// callFirstServer sends req to the members of t in turn until one answers
// (key "" for lmgrd itself): one that cannot be reached or is not serving
// is passed over, any other answer is the triad's. It returns the answer,
// its records and who gave it.
func callFirstServer(ctx context.Context, t target, key, value string, req wire.Message) (wire.Message, []wire.Message, licfile.HostPort, error) {
	var lastErr error
	for _, hp := range t.servers {
		resp, recs, err := adminExchange(ctx, hp, key, value, req)
		if err == nil {
			return resp, recs, hp, nil
		}
		lastErr = err
		var we *wire.Error
		if errors.As(err, &we) && we.Code != wire.CodeCantConnect && we.Code != wire.CodeServBusy {
			break
		}
	}
	return wire.Message{}, nil, licfile.HostPort{}, lastErr
}

// callVendorOrFeature is callServingVendor for FlexLM's "{feature|vendor}"
// argument: a feature name first, else a vendor name.
func callVendorOrFeature(ctx context.Context, t target, name string, req wire.Message) (wire.Message, error) {
	resp, err := callServingVendor(ctx, t, "feature", name, req)
	var we *wire.Error
	if errors.As(err, &we) && we.Code == wire.CodeNoFeature {
		return callServingVendor(ctx, t, "vendor", name, req)
	}
	return resp, err
}

// logCommand is one of the commands that point a vendor daemon's log
// somewhere else: lmswitchr, lmnewlog, lmswitch. Each sends verb with its
// second argument as key to the vendor daemon its first argument names.
type logCommand struct {
	name, usage, usageText string
	verb, key              string
	// vendorOnly: the first argument is a vendor (lmswitch), else a
	// feature or a vendor (FlexLM's {feature|vendor}).
	vendorOnly bool
	flags      []cli.Flag
	// refuse, when set, answers a flag that is not offered.
	refuse func(c *cli.Context) error
	// done is the line printed on success.
	done func(vendor string, resp wire.Message) string
}

func (lc logCommand) command(env *environment) *cli.Command {
	return &cli.Command{
		Name:      lc.name,
		Usage:     lc.usage,
		UsageText: lc.usageText,
		Before:    withAdminLogin(env),
		Flags: append([]cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
		}, lc.flags...),
		Action: func(c *cli.Context) error {
			if lc.refuse != nil {
				if err := lc.refuse(c); err != nil {
					return err
				}
			}
			args := c.Args().Slice()
			if len(args) != 2 {
				return cli.Exit("usage: "+c.Command.UsageText, 2)
			}
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			req := wire.New(lc.verb, lc.key, args[1])
			var resp wire.Message
			if lc.vendorOnly {
				resp, err = callServingVendor(c.Context, t, "vendor", args[0], req)
			} else {
				resp, err = callVendorOrFeature(c.Context, t, args[0], req)
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("%s: %v", lc.name, err), 1)
			}
			fmt.Fprintf(c.App.Writer, "%s: %s\n", lc.name, lc.done(args[0], resp))
			return nil
		},
	}
}

func lmswitchrCommand(env *environment) *cli.Command {
	return logCommand{name: "lmswitchr", usage: "switch a vendor daemon's report log to a new file (until the next reread)",
		usageText: "lmswitchr [-c port@host] {feature|vendor} new_report_log", verb: "SWITCHR", key: "path",
		done: func(_ string, resp wire.Message) string { return "report log switched to " + resp.Get("path") },
	}.command(env)
}

func lmnewlogCommand(env *environment) *cli.Command {
	return logCommand{name: "lmnewlog", usage: "rotate a vendor daemon's report log: rename its content, keep writing under its name",
		usageText: "lmnewlog [-c port@host] {feature|vendor} renamed_report_log", verb: "NEWLOG", key: "renamed",
		done: func(_ string, resp wire.Message) string {
			return "report log renamed to " + resp.Get("renamed") + "; a new one started"
		},
	}.command(env)
}

func lmswitchCommand(env *environment) *cli.Command {
	return logCommand{name: "lmswitch", usage: "switch one vendor daemon's debug log to a new file",
		usageText: "lmswitch [-c port@host] vendor new_debug_log", verb: "SWITCH", key: "path", vendorOnly: true,
		flags: []cli.Flag{&cli.BoolFlag{Name: "rollover", Usage: "not offered: rotate lmgrd's log with logrotate and SIGHUP instead"}},
		refuse: func(c *cli.Context) error {
			if c.Bool("rollover") {
				return cli.Exit("lmswitch: -rollover is not offered: rotate lmgrd's debug log with logrotate (create) and SIGHUP", 2)
			}
			return nil
		},
		done: func(vendor string, resp wire.Message) string {
			return "the debug log of " + vendor + " continues in " + resp.Get("path")
		},
	}.command(env)
}

func lmnotifyCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmnotify",
		Usage:     "send a test notification (mail, webhook) from a license server",
		UsageText: "lmnotify -test [-c port@host]",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
			&cli.BoolFlag{Name: "test", Usage: "send a test message to every destination of the server"},
		},
		Action: func(c *cli.Context) error {
			if !c.Bool("test") {
				return cli.Exit("usage: "+c.Command.UsageText, 2)
			}
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			_, _, hp, err := callFirstServer(c.Context, t, "", "", wire.New("NOTIFY", "test", "1"))
			if err != nil {
				return cli.Exit(fmt.Sprintf("lmnotify: %v", err), 1)
			}
			fmt.Fprintf(c.App.Writer, "lmnotify: test notification sent by %d@%s\n", hp.Port, hp.Host)
			return nil
		},
	}
}

func lmreportCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmreport",
		Usage:     "export a license server's usage statistics (peak in use, issued, denials per feature) as CSV or JSON",
		UsageText: "lmreport [-c port@host] [-resolution minute|hour|day] [-from TIME] [-to TIME] [-json]",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH`"},
			&cli.StringFlag{Name: "resolution", Usage: "minute, hour or day (default: all that are kept, finest first)"},
			&cli.StringFlag{Name: "from", Usage: "from `TIME` (RFC 3339, or YYYY-MM-DD)"},
			&cli.StringFlag{Name: "to", Usage: "until `TIME` (RFC 3339, or YYYY-MM-DD; default now)"},
			&cli.BoolFlag{Name: "json", Usage: "JSON lines instead of CSV"},
		},
		Action: func(c *cli.Context) error {
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			req := wire.New("STATS")
			if r := c.String("resolution"); r != "" {
				req.Set("res", r)
			}
			for _, f := range []string{"from", "to"} {
				if v := c.String(f); v != "" {
					at, err := stats.ParseTime(v)
					if err != nil {
						return cli.Exit(fmt.Sprintf("lmreport: -%s: %v", f, err), 2)
					}
					req.Set(f, strconv.FormatInt(at.Unix(), 10))
				}
			}
			_, recs, _, err := callFirstServer(c.Context, t, "", "", req)
			if err != nil {
				return cli.Exit(fmt.Sprintf("lmreport: %v", err), 1)
			}
			w := c.App.Writer
			if !c.Bool("json") {
				rows := make([]stats.Row, 0, len(recs))
				for _, r := range recs {
					rows = append(rows, statsRow(r))
				}
				return stats.WriteCSV(w, rows)
			}
			for _, r := range recs {
				row := statsRow(r)
				b, _ := json.Marshal(map[string]string{"time": row.Time.Format(time.RFC3339), "vendor": row.Vendor, "feature": row.Feature,
					"peak": r.Get("peak"), "issued": r.Get("issued"), "denials": r.Get("denials")})
				fmt.Fprintln(w, string(b))
			}
			return nil
		},
	}
}

// statsRow reads a STATS reply's ROW record.
func statsRow(r wire.Message) stats.Row {
	at, _ := strconv.ParseInt(r.Get("time"), 10, 64)
	peak, _ := r.Int("peak")
	issued, _ := r.Int("issued")
	denials, _ := r.Uint64("denials")
	return stats.Row{Time: time.Unix(at, 0).UTC(), Vendor: r.Get("vendor"), Feature: r.Get("feature"),
		Peak: peak, Issued: issued, Denials: denials}
}

func lmhostidCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmhostid",
		Usage:     "print this machine's host id",
		UsageText: "lmhostid [-n] [-ether|-internet|-hostname]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "n", Usage: "print only the value"},
			&cli.BoolFlag{Name: "ether", Usage: "Ethernet address (default)"},
			&cli.BoolFlag{Name: "internet", Usage: "IP addresses"},
			&cli.BoolFlag{Name: "hostname", Usage: "host name"},
		},
		Action: func(c *cli.Context) error {
			info, err := hostid.Local()
			if err != nil {
				return err
			}
			id := info.Default()
			switch {
			case c.Bool("internet"):
				id = "INTERNET=" + strings.Join(info.IPs, " INTERNET=")
			case c.Bool("hostname"):
				id = "HOSTNAME=" + info.Hostname
			}
			if c.Bool("n") {
				fmt.Fprintln(c.App.Writer, id)
				return nil
			}
			fmt.Fprintf(c.App.Writer, "The FlexNet host ID of this machine is \"%s\"\n", id)
			return nil
		},
	}
}

func defaultEnvironment(argv0 string) *environment {
	return &environment{argv0: argv0, getenv: os.Getenv, stdin: os.Stdin}
}

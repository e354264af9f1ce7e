// Command lmchaos runs the triad's chaos suite (package chaos).
//
//	lmchaos run -bin DIR [-duration 10m] [-seed N]   the whole run; exit 1 on any violation
//	lmchaos workload -path P -out FILE ...           the clients (run by "run" inside the clients' namespace)
//	lmchaos rogue -rank R -targets R=ADDR,...        a peer without the key (run by "run" in a member's namespace)
//	lmchaos info -addr HOST:PORT                     an lmgrd's INFO records, one per line
//	lmchaos checkout -path P -feature F              one license checked out through the triad and in again
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/chaos"
	"github.com/lmtriad/lmtriad/wire"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	code := 0
	app := newApp(stdout, stderr, &code)
	if err := app.Run(args); err != nil {
		fmt.Fprintln(stderr, "lmchaos:", err)
		if code == 0 {
			code = 2
		}
	}
	return code
}

func newApp(stdout, stderr io.Writer, code *int) *cli.App {
	d := chaos.DefaultOptions()
	w := chaos.DefaultWorkload()
	return &cli.App{
		Name:           "lmchaos",
		Usage:          "chaos suite for the lmtriad triad",
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{
				Name:  "run",
				Usage: "run a triad in private network namespaces under a nemesis and check the history (root)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "bin", Required: true, Usage: "`DIR` with lmgrd, vendord, lmutil and lmchaos"},
					&cli.StringFlag{Name: "dir", Usage: "`DIR` for logs and the history (default: a new temp dir, kept)"},
					&cli.DurationFlag{Name: "duration", Value: d.Duration, Usage: "how long the nemesis runs"},
					&cli.Uint64Flag{Name: "seed", Usage: "seed of the plan and the clients (default: the time)"},
					&cli.IntFlag{Name: "clients", Value: w.Clients},
					&cli.IntFlag{Name: "licenses", Value: d.Licenses},
					&cli.StringFlag{Name: "faults", Value: strings.Join(chaos.AllFaults, ","), Usage: "fault kinds to draw from"},
					&cli.StringFlag{Name: "first", Usage: "fault kinds of the first episodes, in order (comma-separated)"},
					&cli.BoolFlag{Name: "report-survive", Usage: "report check (b) without failing on it (until replication lands)"},
					&cli.BoolFlag{Name: "hand-edits", Value: d.EnrolHandEdits, Usage: "enrol-partition: sometimes also edit the cut-off member's copy by hand (-hand-edits=false: never)"},
				},
				Action: func(c *cli.Context) error {
					o := chaos.DefaultOptions()
					o.Bin, o.Dir, o.Duration = c.String("bin"), c.String("dir"), c.Duration("duration")
					if c.IsSet("seed") {
						o.Seed = c.Uint64("seed")
					}
					o.Workload.Clients, o.Licenses = c.Int("clients"), c.Int("licenses")
					o.Faults = strings.Split(c.String("faults"), ",")
					if c.String("first") != "" {
						o.First = strings.Split(c.String("first"), ",")
					}
					o.EnrolHandEdits = c.Bool("hand-edits")
					o.Out = stdout
					if o.Dir == "" {
						dir, err := os.MkdirTemp("", "lmchaos-")
						if err != nil {
							return err
						}
						o.Dir = dir
					}
					bin, err := filepath.Abs(o.Bin)
					if err != nil {
						return err
					}
					o.Bin = bin
					fmt.Fprintf(stdout, "lmchaos run: duration %v, seed %d, logs and history in %s\n", o.Duration, o.Seed, o.Dir)
					rep, err := chaos.Run(c.Context, o)
					chaos.RemoveOwn()
					if err != nil {
						return err
					}
					failed := rep.Count(chaos.CheckLimit) + rep.Count(chaos.CheckResume) + rep.Count(chaos.CheckRogue) + rep.Count(chaos.CheckCrash) +
						rep.Count(chaos.CheckEnrol)
					if !c.Bool("report-survive") {
						failed += rep.Count(chaos.CheckSurvive)
					}
					if failed > 0 {
						*code = 1
						return errors.New("violations found")
					}
					fmt.Fprintln(stdout, "PASS")
					return nil
				},
			},
			{
				Name:  "workload",
				Usage: "run the clients and write their history as JSON lines",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", Required: true, Usage: "license `PATH` (port@h1,port@h2,port@h3)"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "history `FILE`"},
					&cli.IntFlag{Name: "clients", Value: w.Clients},
					&cli.StringFlag{Name: "feature", Value: w.Feature},
					&cli.Uint64Flag{Name: "seed"},
					&cli.DurationFlag{Name: "hold-min", Value: w.HoldMin},
					&cli.DurationFlag{Name: "hold-max", Value: w.HoldMax},
					&cli.DurationFlag{Name: "think-max", Value: w.ThinkMax},
					&cli.Float64Flag{Name: "long-hold", Value: w.LongHold, Usage: "fraction of grants held long"},
					&cli.DurationFlag{Name: "long-min", Value: w.LongMin},
					&cli.DurationFlag{Name: "long-max", Value: w.LongMax},
					&cli.DurationFlag{Name: "denied-min", Value: w.DeniedMin},
					&cli.DurationFlag{Name: "denied-max", Value: w.DeniedMax},
					&cli.DurationFlag{Name: "error-max", Value: w.ErrorMax},
					&cli.DurationFlag{Name: "heartbeat", Value: w.HeartbeatInterval},
					&cli.DurationFlag{Name: "request-timeout", Value: w.RequestTimeout},
					&cli.DurationFlag{Name: "dial-timeout", Value: w.DialTimeout},
					&cli.DurationFlag{Name: "retry", Value: w.RetryInterval},
					&cli.DurationFlag{Name: "op-timeout", Value: w.OpTimeout},
				},
				Action: func(c *cli.Context) error {
					o := chaos.WorkloadOptions{
						LicensePath: c.String("path"), Feature: c.String("feature"), Clients: c.Int("clients"), Seed: c.Uint64("seed"),
						HoldMin: c.Duration("hold-min"), HoldMax: c.Duration("hold-max"), ThinkMax: c.Duration("think-max"),
						LongHold: c.Float64("long-hold"), LongMin: c.Duration("long-min"), LongMax: c.Duration("long-max"),
						DeniedMin: c.Duration("denied-min"), DeniedMax: c.Duration("denied-max"), ErrorMax: c.Duration("error-max"),
						HeartbeatInterval: c.Duration("heartbeat"), RequestTimeout: c.Duration("request-timeout"),
						DialTimeout: c.Duration("dial-timeout"), RetryInterval: c.Duration("retry"), OpTimeout: c.Duration("op-timeout"),
					}
					f, err := os.Create(c.String("out"))
					if err != nil {
						return err
					}
					defer f.Close()
					// SIGTERM or SIGINT ends the run cleanly; so does the
					// parent going away (stdin is not used).
					ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
					defer stop()
					start := time.Now()
					err = chaos.RunWorkload(ctx, o, chaos.NewRecorder(f))
					fmt.Fprintf(stdout, "workload: %d clients ran %v\n", o.Clients, time.Since(start).Round(time.Millisecond))
					return err
				},
			},
			{
				Name:   "rogue",
				Usage:  "a triad peer without the cluster key: vote, append, fetch and push state at the targets; attempts as JSON lines",
				Hidden: true,
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "rank", Required: true, Usage: "the rank to claim (the member whose address this runs on)"},
					&cli.StringFlag{Name: "targets", Required: true, Usage: "`R=HOST:PORT,...`: the members to attack and their ranks"},
					&cli.StringFlag{Name: "servers", Usage: "`HOST:PORT,...`: the SERVER lines, for the old greetings"},
					&cli.StringFlag{Name: "vendor", Value: "demo"},
					&cli.StringFlag{Name: "feature", Value: chaos.Feature},
					&cli.IntFlag{Name: "count", Value: 100000, Usage: "the count SNAP/DELTA lines claim"},
					&cli.DurationFlag{Name: "for", Value: 30 * time.Second, Usage: "stop after this long at most"},
					&cli.DurationFlag{Name: "every", Value: 100 * time.Millisecond, Usage: "pause between two attempts of a kind at a target"},
					&cli.IntFlag{Name: "max-attempts", Value: 100, Usage: "attempts of a kind at a target at most"},
					&cli.DurationFlag{Name: "timeout", Value: 500 * time.Millisecond, Usage: "bound of one attempt"},
				},
				Action: func(c *cli.Context) error {
					o := chaos.RogueOptions{Rank: c.Int("rank"), Vendor: c.String("vendor"), Feature: c.String("feature"),
						Count: c.Int("count"), For: c.Duration("for"), Every: c.Duration("every"),
						MaxAttempts: c.Int("max-attempts"), Timeout: c.Duration("timeout")}
					for _, t := range strings.Split(c.String("targets"), ",") {
						r, addr, ok := strings.Cut(t, "=")
						rank, err := strconv.Atoi(r)
						if !ok || err != nil {
							return fmt.Errorf("-targets: %q is not RANK=HOST:PORT", t)
						}
						o.Targets = append(o.Targets, chaos.RogueTarget{Rank: rank, Addr: addr})
					}
					if s := c.String("servers"); s != "" {
						o.Servers = strings.Split(s, ",")
					}
					ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
					defer stop()
					return chaos.RunRogue(ctx, o, stdout)
				},
			},
			{
				Name:   "info",
				Usage:  "print an lmgrd's INFO reply and records, one protocol line each",
				Hidden: true,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "addr", Required: true, Usage: "`HOST:PORT` of the lmgrd"},
				},
				Action: func(c *cli.Context) error {
					ctx, cancel := context.WithTimeout(c.Context, 3*time.Second)
					defer cancel()
					var d net.Dialer
					conn, _, err := wire.Dial(ctx, &d, c.String("addr"), wire.Hello("role", "admin"), 2*time.Second)
					if err != nil {
						return err
					}
					defer conn.Close()
					resp, recs, err := conn.Call(ctx, wire.New("INFO"))
					if err != nil {
						return err
					}
					fmt.Fprintln(stdout, resp.String())
					for _, r := range recs {
						fmt.Fprintln(stdout, r.String())
					}
					return nil
				},
			},
			{
				Name:   "checkout",
				Usage:  "check one license of a feature out through the triad and in again (exit 1 if either fails)",
				Hidden: true,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", Required: true, Usage: "license `PATH` (port@h1,port@h2,port@h3)"},
					&cli.StringFlag{Name: "feature", Required: true},
					&cli.DurationFlag{Name: "timeout", Value: 4 * time.Second, Usage: "bound of the checkout"},
				},
				Action: func(c *cli.Context) error {
					ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
					defer cancel()
					h, err := chaos.CheckoutOnce(ctx, c.String("path"), c.String("feature"))
					if err != nil {
						*code = 1
						return err
					}
					fmt.Fprintf(stdout, "%s: granted on handle %d, checked in\n", c.String("feature"), h)
					return nil
				},
			},
		},
	}
}

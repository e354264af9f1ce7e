package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/licfile"
)

// lmborrowCommand is FlexLM's lmborrow: record an intent to borrow (the
// client library then borrows what it checks out of that vendor), list
// the borrowed licenses and intents of this machine, drop the intent, or
// return a borrowed license early. The borrow file is LM_BORROW_FILE, else
// $HOME/.lmtriad/borrow.json.
func lmborrowCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:  "lmborrow",
		Usage: "borrow licenses for use away from the server, list or return them",
		UsageText: "lmborrow {VENDOR|all} dd-mmm-yyyy [hh:mm]\n" +
			"   lmborrow -status\n" +
			"   lmborrow -clear\n" +
			"   lmborrow -return [-c port@host] FEATURE",
		Description: "The first form makes the checkouts of VENDOR's features (of every vendor\n" +
			"for all) borrow their licenses until the date (23:59 when no time is given,\n" +
			"local time); a feature whose license line has no BORROW is checked out as\n" +
			"usual. A borrowed license stays held by the server without a connection until\n" +
			"its end, or until lmborrow -return gives it back.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "status", Usage: "list the borrowed licenses and the intent of this machine"},
			&cli.BoolFlag{Name: "clear", Usage: "drop the borrow intent (borrowed licenses stay borrowed)"},
			&cli.BoolFlag{Name: "return", Usage: "return FEATURE's borrowed license to its server now"},
			&cli.StringFlag{Name: "c", Usage: "license `PATH` to return to (else the servers it was borrowed from)"},
			&cli.StringFlag{Name: "d", Usage: "display (accepted for FlexLM compatibility; unused)"},
		},
		Action: func(c *cli.Context) error {
			file := client.DefaultBorrowFile(env.getenv)
			if file == "" {
				return cli.Exit("lmborrow: set LM_BORROW_FILE or HOME", 1)
			}
			args := c.Args().Slice()
			switch {
			case c.Bool("status"):
				return borrowStatus(c, file, env.now())
			case c.Bool("clear"):
				if err := client.UpdateBorrowFile(file, func(f *client.BorrowFile) error {
					f.Intents = nil
					return nil
				}); err != nil {
					return cli.Exit("lmborrow: "+err.Error(), 1)
				}
				fmt.Fprintln(c.App.Writer, "Borrow intent cleared")
				return nil
			case c.Bool("return"):
				if len(args) != 1 {
					return cli.Exit("usage: lmborrow -return [-c port@host] FEATURE", 2)
				}
				opts := client.NewOptions()
				opts.Getenv = env.getenv
				opts.LicensePath = c.String("c")
				opts.BorrowFile = file
				cl, err := client.New(opts)
				if err != nil {
					return err
				}
				defer cl.Close()
				if err := cl.Return(c.Context, args[0]); err != nil {
					return cli.Exit(fmt.Sprintf("lmborrow: %s: %v", args[0], err), 1)
				}
				fmt.Fprintf(c.App.Writer, "%s returned\n", args[0])
				return nil
			}
			if len(args) < 2 || len(args) > 3 {
				return cli.Exit("usage: "+strings.ReplaceAll(c.Command.UsageText, "\n   ", "\n       "), 2)
			}
			until, err := borrowEnd(args[1], args[2:], env.now())
			if err != nil {
				return cli.Exit("lmborrow: "+err.Error(), 2)
			}
			if err := client.UpdateBorrowFile(file, func(f *client.BorrowFile) error {
				f.Prune(env.now())
				// One intent per vendor: the new one replaces it.
				kept := f.Intents[:0]
				for _, in := range f.Intents {
					if in.Vendor != args[0] {
						kept = append(kept, in)
					}
				}
				f.Intents = append(kept, client.BorrowIntent{Vendor: args[0], Until: until})
				return nil
			}); err != nil {
				return cli.Exit("lmborrow: "+err.Error(), 1)
			}
			fmt.Fprintf(c.App.Writer, "Setting borrow of %s licenses until %s\n", args[0], until.Format(borrowLayout))
			return nil
		},
	}
}

// borrowLayout is how lmborrow prints a borrow's end, as FlexLM's
// lmborrow -status does.
const borrowLayout = "02-Jan-2006 15:04"

// borrowEnd reads lmborrow's "dd-mmm-yyyy [hh:mm]" in local time; without
// a time the borrow ends at 23:59 of the day. It must be after now.
func borrowEnd(date string, clock []string, now time.Time) (time.Time, error) {
	d, err := licfile.ParseDate(date)
	if err != nil || d.Year == 0 {
		return time.Time{}, fmt.Errorf("bad date %q (want dd-mmm-yyyy)", date)
	}
	hour, minute := 23, 59
	if len(clock) > 0 {
		t, err := time.Parse("15:04", clock[0])
		if err != nil {
			return time.Time{}, fmt.Errorf("bad time %q (want hh:mm)", clock[0])
		}
		hour, minute = t.Hour(), t.Minute()
	}
	until := time.Date(d.Year, d.Month, d.Day, hour, minute, 0, 0, now.Location())
	if !until.After(now) {
		return time.Time{}, fmt.Errorf("%s is not in the future", until.Format(borrowLayout))
	}
	return until, nil
}

func borrowStatus(c *cli.Context, file string, now time.Time) error {
	f, err := client.ReadBorrowFile(file)
	if err != nil {
		return cli.Exit("lmborrow: "+err.Error(), 1)
	}
	w := c.App.Writer
	if len(f.Borrowed) == 0 {
		fmt.Fprintln(w, "No licenses borrowed")
	} else {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "Vendor\tFeature\tVersion\tExpiration\tServer")
		fmt.Fprintln(tw, "______\t_______\t_______\t__________\t______")
		for _, b := range f.Borrowed {
			end := b.Until.In(now.Location()).Format(borrowLayout)
			if !b.Until.After(now) {
				end += " (expired)"
			}
			server := ""
			if len(b.Servers) > 0 {
				server = b.Servers[0]
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Vendor, b.Feature, b.Version, end, server)
		}
		tw.Flush()
	}
	for _, in := range f.Intents {
		if in.Until.After(now) {
			fmt.Fprintf(w, "Borrowing %s licenses until %s\n", in.Vendor, in.Until.In(now.Location()).Format(borrowLayout))
		}
	}
	return nil
}

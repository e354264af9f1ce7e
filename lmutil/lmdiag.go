package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/licfile"
)

// lmdiag: can this feature be checked out, and if not why, entry by entry
// of the license path (FlexLM's checkout diagnosis). It reads the license
// lines each entry serves (files from disk, a server's from the server),
// then tries a checkout of one license of each feature, which it checks
// in at once.

const diagRule = "-----------------------------------------------------"

func lmdiagCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmdiag",
		Usage:     "diagnose checkout problems: try each feature, server by server, and say why it cannot be checked out",
		UsageText: "lmdiag [-c license_file_list] [-n] [feature]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Usage: "license `PATH`: port@host, triad, file or directory"},
			&cli.BoolFlag{Name: "n", Usage: "non-interactive (lmdiag never asks anything here)"},
		},
		Action: func(c *cli.Context) error {
			spec := c.String("c")
			if spec == "" {
				spec = licfile.SearchPathFromEnv("", env.getenv)
			}
			if spec == "" {
				return cli.Exit("lmdiag: no license file: give -c or set LM_LICENSE_FILE (-1: Cannot find license file.)", 1)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "lmdiag - Copyright (c) 1989-%d lmtriad authors. All Rights Reserved.\n", env.now().Year())
			entries, _ := licfile.ParseSearchPath(spec, nil)
			failed := false
			for _, e := range entries {
				if !diagnoseEntry(c.Context, w, env, e.Text, c.Args().First()) {
					failed = true
				}
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
}

// diagnoseEntry reports each feature of one path entry; false when any
// could not be checked out.
func diagnoseEntry(ctx context.Context, w io.Writer, env *environment, entry, feature string) bool {
	fmt.Fprintln(w, diagRule)
	fmt.Fprintf(w, "License file: %s\n", entry)
	fmt.Fprintln(w, diagRule)
	files, err := licenseFiles(ctx, entry, func(string) string { return "" })
	if len(files) == 0 {
		fmt.Fprintf(w, "Cannot read the license lines: %v\n", err)
		return false
	}
	type feat struct {
		name, vendor, version, expiry string
		nodeLocked                    string
	}
	seen := map[string]bool{}
	var feats []feat
	for _, f := range files {
		for _, ft := range f.Features {
			if feature != "" && ft.Name != feature || seen[ft.Name] {
				continue
			}
			seen[ft.Name] = true
			expiry := ft.ExpiryText
			if expiry == "" || strings.EqualFold(expiry, "permanent") {
				expiry = "permanent(no expiration date)"
			}
			feats = append(feats, feat{ft.Name, ft.Vendor, ft.Version, expiry, ft.HostID})
		}
	}
	sort.SliceStable(feats, func(i, j int) bool { return feats[i].name < feats[j].name })
	if len(feats) == 0 {
		fmt.Fprintf(w, "No FEATURE or INCREMENT line for %q\n", feature)
		return false
	}
	ok := true
	for _, f := range feats {
		fmt.Fprintf(w, "%q v%s, vendor: %s, expiry: %s\n", f.name, f.version, f.vendor, f.expiry)
		if f.nodeLocked != "" {
			fmt.Fprintf(w, "  nodelocked license, locked to %q\n", f.nodeLocked)
		} else {
			fmt.Fprintln(w, "  floating license")
		}
		if err := tryCheckout(ctx, env, entry, f.name); err != nil {
			ok = false
			fmt.Fprintf(w, "\nThis license cannot be checked out because:\n\t%v\n", err)
		} else {
			fmt.Fprintln(w, "\nThis license can be checked out")
		}
		fmt.Fprintln(w, diagRule)
	}
	return ok
}

// tryCheckout checks out one license of feature from entry and checks it
// in again.
func tryCheckout(ctx context.Context, env *environment, entry, feature string) error {
	opts := client.NewOptions()
	opts.LicensePath = entry
	opts.Getenv = env.getenv
	opts.BorrowFile = "none" // a diagnosis never borrows
	cl, err := client.New(opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	lic, err := cl.Checkout(ctx, feature, "", 1)
	if err != nil {
		return err
	}
	if err := lic.Checkin(); err != nil {
		return fmt.Errorf("checked out, but the checkin failed: %w", err)
	}
	return nil
}

// lmpathCommand is lmpath -status: where licenses are looked for, per
// vendor and for all (FlexLM keeps them in the registry or
// ~/.flexlmrc; here they are the environment's).
func lmpathCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmpath",
		Usage:     "show where licenses are looked for (LM_LICENSE_FILE, VENDOR_LICENSE_FILE)",
		UsageText: "lmpath -status",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "status", Usage: "show the license search paths"},
			&cli.StringFlag{Name: "add", Usage: "not offered: set LM_LICENSE_FILE in the environment instead"},
			&cli.StringFlag{Name: "override", Usage: "not offered: set LM_LICENSE_FILE in the environment instead"},
		},
		Action: func(c *cli.Context) error {
			if c.IsSet("add") || c.IsSet("override") {
				return errors.New("lmpath -add and -override are not offered: this license manager keeps no registry or ~/.flexlmrc; set LM_LICENSE_FILE or VENDOR_LICENSE_FILE in the environment")
			}
			if !c.Bool("status") {
				return cli.Exit("usage: "+c.Command.UsageText, 2)
			}
			w := c.App.Writer
			fmt.Fprintln(w, "lmpath - Copyright (c) lmtriad authors. All Rights Reserved.")
			fmt.Fprintln(w, "Known Vendors:")
			fmt.Fprintln(w, "_____________")
			for _, kv := range vendorPaths(env) {
				fmt.Fprintf(w, "%s: %s\n", kv[0], kv[1])
			}
			fmt.Fprintln(w, "_____________")
			fmt.Fprintln(w, "Other Vendors:")
			fmt.Fprintln(w, "______________")
			fmt.Fprintln(w, env.getenv("LM_LICENSE_FILE"))
			return nil
		},
	}
}

// vendorPaths are the VENDOR_LICENSE_FILE variables of the environment,
// by vendor name.
func vendorPaths(env *environment) [][2]string {
	var out [][2]string
	for _, kv := range env.environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "LM_LICENSE_FILE" || !strings.HasSuffix(k, "_LICENSE_FILE") {
			continue
		}
		out = append(out, [2]string{strings.ToLower(strings.TrimSuffix(k, "_LICENSE_FILE")), v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

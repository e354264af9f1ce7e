package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/urfave/cli/v2"
)

// lmcksumOptions is what lmcksum runs on.
type lmcksumOptions struct {
	LicensePath string // -c, or $LM_LICENSE_FILE
	Feature     string // only lines of this name; empty: all
	VendorKeys  string // -vendor-keys: a .pub file or a directory of them; empty: no signature check
}

func lmcksumCommand() *cli.Command {
	return &cli.Command{
		Name:      "lmcksum",
		Usage:     "check every line of license files",
		ArgsUsage: "[feature]",
		Description: "Checks each FEATURE, INCREMENT, UPGRADE and PACKAGE line and prints\n" +
			"\"OK\" or what is wrong with it. lmtriad has no signature algorithm: OK\n" +
			"means the line is well formed and consistent. Exits 0 only when every\n" +
			"line of every file is valid.\n\n" +
			"With -vendor-keys KEYS (a VENDOR.pub file from lmkeygen VENDOR DIR, or a\n" +
			"directory of them), checks instead the Ed25519 signature (SIGN=ed1:...)\n" +
			"of each line and prints \"FILE:LINE: KEYWORD NAME VENDOR: OK\" or \"...: BAD:\n" +
			"reason\"; a line whose vendor has no key is BAD. Exits 0 only when every\n" +
			"line is valid and OK.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Usage: "license file, directory or search path (default $LM_LICENSE_FILE)"},
			&cli.StringFlag{Name: "vendor-keys", Usage: "check license signatures with the public key `KEYS` (a .pub file or a directory of them)"},
			&cli.BoolFlag{Name: "k", Usage: "case-sensitive checksums (accepted for compatibility; no effect)"},
		},
		Action: func(c *cli.Context) error {
			opts := lmcksumOptions{LicensePath: c.String("c"), Feature: c.Args().First(), VendorKeys: c.String("vendor-keys")}
			if opts.LicensePath == "" {
				opts.LicensePath = licfile.SearchPathFromEnv("", os.Getenv)
			}
			return lmcksum(c.Context, c.App.Writer, opts)
		},
	}
}

// lmcksum prints a banner, then for each file its lines in order: an OK
// line per valid FEATURE/INCREMENT/UPGRADE/PACKAGE line, every error and
// warning with its file:line. It returns exitError{1} when anything is wrong.
func lmcksum(ctx context.Context, w io.Writer, opts lmcksumOptions) error {
	fmt.Fprintln(w, "lmcksum - Copyright (c) 2026 The lmtriad Authors. All Rights Reserved.")
	if opts.LicensePath == "" {
		fmt.Fprintln(w, "lmcksum: no license file: give -c file or set LM_LICENSE_FILE (-1: Cannot find license file.)")
		return exitError{1}
	}
	var keys []*licsign.PublicKey
	if opts.VendorKeys != "" {
		var err error
		if keys, err = licsign.LoadPublicKeys(opts.VendorKeys); err != nil {
			fmt.Fprintf(w, "lmcksum: vendor keys: %v\n", err)
			return exitError{1}
		}
	}
	files, err := licenseFiles(ctx, opts.LicensePath, func(string) string { return "" })
	var errs licfile.ErrorList
	if err != nil && !errors.As(err, &errs) {
		return err
	}
	byFile := map[string][]*licfile.Error{}
	for _, e := range errs {
		byFile[e.Pos.File] = append(byFile[e.Pos.File], e)
	}
	found, bad := false, false
	for _, f := range files {
		fmt.Fprintf(w, "lmcksum: using license file %q\n", f.Name)
		var items []item
		heads := lineHeads(f)
		for _, l := range f.SignedLines() {
			if keys == nil || opts.Feature != "" && l.Name != opts.Feature {
				continue
			}
			found = true
			text := fmt.Sprintf("%s: %s: OK", l.Pos, heads[l.Pos])
			if err := licsign.Verify(l, keys); err != nil {
				bad = true
				text = strings.TrimSuffix(text, "OK") + "BAD: " + err.Error()
			}
			items = append(items, item{l.Pos.Line, text})
		}
		for _, ft := range f.Features {
			if keys != nil {
				break
			}
			if opts.Feature == "" || ft.Name == opts.Feature {
				found = true
				items = append(items, item{ft.Pos.Line, heads[ft.Pos] + ": OK"})
			}
		}
		for _, p := range f.Packages {
			if keys != nil {
				break
			}
			if opts.Feature == "" || p.Name == opts.Feature {
				found = true
				items = append(items, item{p.Pos.Line, heads[p.Pos] + ": OK"})
			}
		}
		for _, e := range byFile[f.Name] {
			items = append(items, item{e.Pos.Line, e.Error()})
		}
		delete(byFile, f.Name)
		for _, e := range f.Warnings {
			items = append(items, item{e.Pos.Line, fmt.Sprintf("%s: warning: %s", e.Pos, e.Msg)})
		}
		sort.SliceStable(items, func(i, j int) bool { return items[i].line < items[j].line })
		for _, it := range items {
			fmt.Fprintln(w, it.text)
		}
	}
	// Errors about files that could not be read or path entries.
	for _, e := range errs {
		if _, left := byFile[e.Pos.File]; left {
			fmt.Fprintf(w, "%s: %s\n", e.Pos.File, e.Msg)
		}
	}
	if opts.Feature != "" && !found {
		fmt.Fprintf(w, "lmcksum: no line for feature %q\n", opts.Feature)
		return exitError{1}
	}
	if len(errs) > 0 || bad {
		return exitError{1}
	}
	return nil
}

// item is one output line of lmcksum, placed by its license-file line.
type item struct {
	line int
	text string
}

// lineHeads are FlexLM's heads of f's lines, as lmcksum prints them and
// tools read them (phpLicenseWatcher: "FEATURE name vendor version expiry
// count"): KEYWORD name vendor version expiry count for FEATURE,
// INCREMENT and UPGRADE lines, KEYWORD name vendor [version] for PACKAGE.
func lineHeads(f *licfile.File) map[licfile.Pos]string {
	heads := make(map[licfile.Pos]string, len(f.Features)+len(f.Packages))
	for _, ft := range f.Features {
		expiry := ft.ExpiryText
		if expiry == "" {
			expiry = "permanent"
		}
		count := strconv.Itoa(ft.Count)
		if ft.Uncounted {
			count = "uncounted"
		}
		heads[ft.Pos] = strings.Join([]string{ft.Kind.String(), ft.Name, ft.Vendor, ft.Version, expiry, count}, " ")
	}
	for _, p := range f.Packages {
		parts := []string{"PACKAGE", p.Name, p.Vendor}
		if p.Version != "" {
			parts = append(parts, p.Version)
		}
		heads[p.Pos] = strings.Join(parts, " ")
	}
	return heads
}

package main

import (
	"fmt"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/lmtriad/lmtriad/wire"
)

// Signature checks (lmgrd -vendor-keys, docs/security.md "License
// signatures"). They are opt-in: without keys every line is served as
// before. With keys, each FEATURE, INCREMENT, UPGRADE and PACKAGE line of
// this daemon's vendor must carry an ed1: signature one of the keys
// verifies; a line that does not (tampered with, SIGN=0, no signature, no
// key for the vendor) is dropped before the pools are built and logged as
// -8 with its file:line. The other lines keep serving.
//
// The keys are read again on every reread, from -vendor-keys only: never
// from the license directory, which whoever edits licenses can write.

// logSignaturePolicy says once, at start, whether signatures are checked.
func (d *daemon) logSignaturePolicy() {
	if d.opts.VendorKeys == "" {
		d.log.Warn("License signatures are not checked (no -vendor-keys)")
		return
	}
	d.log.Infof("License signatures are checked with the keys of %s", d.opts.VendorKeys)
}

// verifySignatures removes from files the lines of this vendor whose
// signature the keys do not verify. It does nothing without -vendor-keys.
func (d *daemon) verifySignatures(files []*licfile.File) error {
	if d.opts.VendorKeys == "" {
		return nil
	}
	keys, err := licsign.LoadPublicKeys(d.opts.VendorKeys)
	if err != nil {
		return fmt.Errorf("-vendor-keys: %w", err)
	}
	for _, f := range files {
		bad := map[licfile.Pos]bool{}
		for _, l := range f.SignedLines() {
			if l.Vendor != d.opts.Vendor {
				continue
			}
			if err := licsign.Verify(l, keys); err != nil {
				bad[l.Pos] = true
				d.log.Errorf("%s: %s %s: not served: %s (%d): %v", l.Pos, l.Keyword, l.Name,
					wire.ErrBadCode.Text, wire.CodeBadCode, err)
			}
		}
		if len(bad) == 0 {
			continue
		}
		features := f.Features[:0:0]
		for _, ft := range f.Features {
			if !bad[ft.Pos] {
				features = append(features, ft)
			}
		}
		f.Features = features
		packages := f.Packages[:0:0]
		for _, pk := range f.Packages {
			if !bad[pk.Pos] {
				packages = append(packages, pk)
			}
		}
		f.Packages = packages
	}
	return nil
}

package main

import (
	"fmt"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/lmtriad/lmtriad/wire"
)

// Signature checks (docs/security.md "License signatures"). They are the
// default: each FEATURE, INCREMENT, UPGRADE and PACKAGE line of this
// daemon's vendor must carry an ed1: signature that a key of the vendor
// verifies, a key built into this binary (licsign.Builtin) or one of
// lmgrd -vendor-keys. A line that does not (tampered with, SIGN=0, no
// signature) is dropped before the pools are built and logged as -8 with
// its file:line; the other lines keep serving. With no key of the vendor at
// all, every line of it is dropped so: nothing is served, counted or
// uncounted, since an uncounted node-locked line is as much a license the
// vendor sold. Only lmgrd -unsigned VENDOR (Args.Unsigned) turns the check
// off, for that vendor.
//
// The keys are read again on every reread, from -vendor-keys only: never
// from the license directory, which whoever edits licenses can write.

// noKeyText explains a line refused for want of any key of vendor.
func noKeyText(vendor string) string {
	return fmt.Sprintf("no public key for vendor %s: sign the licenses (lmutil lmcrypt) and give lmgrd -vendor-keys, or allow unsigned licenses with lmgrd -unsigned %s", vendor, vendor)
}

// unsignedText is the warning of a daemon started with -unsigned.
func unsignedText(vendor string) string {
	return fmt.Sprintf("License signatures of vendor %s are NOT checked (lmgrd -unsigned %s)", vendor, vendor)
}

// logSignaturePolicy says once, at start, how signatures are checked.
func (d *daemon) logSignaturePolicy() {
	v := d.opts.Vendor
	if d.opts.Unsigned {
		d.log.Warn(unsignedText(v))
		return
	}
	keys, builtin, err := d.vendorKeys()
	switch {
	case err != nil:
		return // loadPools says why and stops the daemon
	case len(keys) == 0:
		d.log.Errorf("License signatures of vendor %s cannot be checked: %s", v, noKeyText(v))
	case builtin > 0 && d.opts.VendorKeys != "":
		d.log.Infof("License signatures are checked with the keys built into this daemon and those of %s", d.opts.VendorKeys)
	case builtin > 0:
		d.log.Info("License signatures are checked with the keys built into this daemon")
	default:
		d.log.Infof("License signatures are checked with the keys of %s", d.opts.VendorKeys)
	}
}

// vendorKeys returns the public keys of this daemon's vendor: those built
// in (builtin of them) and those of -vendor-keys.
func (d *daemon) vendorKeys() (keys []*licsign.PublicKey, builtin int, err error) {
	all, err := licsign.Builtin()
	if err != nil {
		return nil, 0, err
	}
	for _, k := range all {
		if k.Vendor == d.opts.Vendor {
			keys = append(keys, k)
		}
	}
	builtin = len(keys)
	if d.opts.VendorKeys == "" {
		return keys, builtin, nil
	}
	given, err := licsign.LoadPublicKeys(d.opts.VendorKeys)
	if err != nil {
		return nil, 0, fmt.Errorf("-vendor-keys: %w", err)
	}
	for _, k := range given {
		if k.Vendor == d.opts.Vendor {
			keys = append(keys, k)
		}
	}
	return keys, builtin, nil
}

// verifySignatures removes from files the lines of this vendor whose
// signature no key of the vendor verifies: every line of the vendor when
// it has no key. It does nothing with -unsigned.
// Each line refused is logged and added to *skipped (for lmstat).
func (d *daemon) verifySignatures(files []*licfile.File, skipped *[]string) error {
	if d.opts.Unsigned {
		return nil
	}
	keys, _, err := d.vendorKeys()
	if err != nil {
		return err
	}
	for _, f := range files {
		bad := map[licfile.Pos]bool{}
		for _, l := range f.SignedLines() {
			if l.Vendor != d.opts.Vendor {
				continue
			}
			err := licsign.Verify(l, keys)
			if len(keys) == 0 {
				err = fmt.Errorf("%s", noKeyText(d.opts.Vendor))
			}
			if err != nil {
				bad[l.Pos] = true
				text := fmt.Sprintf("%s: %s %s: not served: %s (%d): %v", l.Pos, l.Keyword, l.Name,
					wire.ErrBadCode.Text, wire.CodeBadCode, err)
				d.log.Error(text)
				*skipped = append(*skipped, text)
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

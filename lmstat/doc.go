// Package lmstat prints license-server status reports in the exact text
// layout of FlexLM's `lmutil lmstat`.
//
// Monitoring tools in the wild (mjtrangoni/flexlm_exporter,
// phpLicenseWatcher, Nagios check_flexlm, OpenLM, LSF blcollect) parse that
// output with line regexes, so every line we print either reproduces a
// FlexLM line byte for byte or is built so that none of those regexes can
// take it for one. The package is a pure formatter: callers fill a [Report]
// (from the wire protocol) and [Write] renders it to an io.Writer; nothing
// here reads clocks, files, flags or the network.
//
// # Layout
//
// [Write] follows the v11.13-era `lmstat -a` rhythm of the reference samples
// (lmstat_app2.txt, lmstat_app3.txt, lmstat_server_down.txt): a paragraph per
// section, each closed by one blank line; per feature a `Users of` header and
// a blank line; per pool in use an indented `"F" vVER, vendor: V, expiry: E`
// line, an optional `vendor_string:` line, the license-type line, a blank
// line, the user lines and a blank line. The pool line keeps its two-space
// indent: newer builds print it flush left after two blank lines, but a line
// starting with a double quote makes the exporter's encoding/csv reader
// (LazyQuotes) swallow the lines that follow.
//
// Checkouts waiting in the server's queue follow the user lines of the
// feature's first pool printed, head first, as FlexLM prints them (the
// client's version twice, no start time; flexlm.md §4.1 item 12), which the
// exporter's exQueued regex reads and its user regex does not:
//
//	bob ws02 :0 2017.06 (v2017.06) (h1/27100 10) queued for 1 license
//
// Vendor daemon names are right-aligned in a 10-column field (as `MLM`,
// `ptc_d`, `daemon`, `snpslmd`, `LMCOMSOL` are in the samples), widened so
// that every name keeps at least two leading spaces: the exporter's vendor
// regex requires leading white space.
//
// # Triad cluster status
//
// FlexLM prints nothing about the links between the three servers; we add a
// paragraph after the server lines, before `Vendor daemon status`:
//
//	h1: license server UP (MASTER) v0.1
//	h2: license server UP v0.1
//	h3: Cannot connect to license server system. (-15,570:111 "Connection refused")
//
//	Cluster status: partially operational
//	    27100@h1 <-> 27100@h2: up
//	    27100@h1 <-> 27100@h3: down, unreachable
//	    27100@h2 <-> 27100@h3: down
//
//	Enrolled license files: 3f9c0a12d4e5a6b7c8d9e0f1
//	    27100@h1: in sync
//	    27100@h2: in sync
//	    27100@h3: sync unknown
//
//	Vendor daemon status (on h1):
//
// A down link says why when the answering server knows (unreachable,
// authentication refused, SERVER line mismatch, clock skew, catching up).
// The second paragraph is the digest of the license files enrolled in the
// triad (docs/enrolment.md) and, per member, whether it serves that set,
// with notes (catching up, clock skew, a state directory that cannot be
// written).
//
// Why no parser misreads it:
//   - check_flexlm counts every line before `^Vendor` that contains
//     "license server " (UP if it contains "UP"); its older regexes want
//     `License server status:` and `HOST: license server UP`. Our lines
//     contain neither phrase, and no upper-case "UP".
//   - flexlm_exporter's server regex needs `: license server <word> vX`
//     (a match for a host missing from `License server status:` would even
//     panic it), its vendor regex needs `^\s+\w+: (UP|DOWN) v[\d.]+$`, its
//     reservation regexes need `^\s*\d+\s+\w+\s+for`, its user regexes need
//     `(vX) (host/port handle), start`. A link line starts with `port@host`
//     (the `@` stops `\w+` and `\d+\s+`), ends in a lower-case up/down with
//     no version, and has no parentheses. The enrolment lines likewise
//     start with `port@host` or `Enrolled`, with no parentheses.
//   - phpLicenseWatcher keys on `^Users of`, `license server UP ... vX$`,
//     `vendor daemon is down` and `, start Ddd M/D H:MM`.
//
// # Unsigned licenses
//
// A vendor daemon that serves licenses without checking their signatures
// (lmgrd -unsigned VENDOR) gets a line under its status line:
//
//	Vendor daemon status (on h1):
//
//	      demo: UP v0.1
//	    demo: unsigned licenses accepted (lmgrd -unsigned demo)
//
// It has no UP or DOWN and no version, so the vendor regexes above skip it,
// and it comes after `^Vendor`, where check_flexlm counts no server.
//
// compat_test.go runs ported copies of those regexes over every golden file
// and over the real FlexLM samples and checks that the numbers they extract
// are the model's numbers and that no added line is picked up.
package lmstat

package lmstat

import (
	"io"
	"strconv"
	"strings"
	"time"
)

// Owner is the copyright holder named in the banner line.
const Owner = "lmtriad authors"

// flushAt bounds the printer's buffer: large reports go out in chunks.
const flushAt = 32 << 10

// printer appends lines to a buffer and hands it to w in chunks. The first
// write error sticks and ends all output.
type printer struct {
	w   io.Writer
	buf []byte
	err error
}

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, buf: make([]byte, 0, 4<<10)}
}

func (p *printer) str(s string) { p.buf = append(p.buf, s...) }

func (p *printer) int(n int) { p.buf = strconv.AppendInt(p.buf, int64(n), 10) }

func (p *printer) spaces(n int) {
	for ; n > 0; n-- {
		p.buf = append(p.buf, ' ')
	}
}

// nl ends a line and flushes when the buffer is large.
func (p *printer) nl() {
	p.buf = append(p.buf, '\n')
	if len(p.buf) >= flushAt {
		p.flush()
	}
}

func (p *printer) line(s string) {
	p.str(s)
	p.nl()
}

func (p *printer) flush() error {
	if p.err == nil && len(p.buf) > 0 {
		_, p.err = p.w.Write(p.buf)
	}
	p.buf = p.buf[:0]
	return p.err
}

// Write prints r as `lmutil lmstat` would, shaped by opts. It returns the
// first error of w.
func Write(w io.Writer, r Report, opts Options) error {
	return WriteAll(w, []Report{r}, opts)
}

// EntrySeparator is the line FlexLM prints between the reports of the
// entries of a license path list (LM_LICENSE_FILE=27000@h1:27000@h2), on
// which tools split its output.
const EntrySeparator = "----------------------------------------------------------------------------"

// WriteAll prints the reports of a license path list's entries in order:
// the banner and date once, then each report, separated by
// EntrySeparator.
func WriteAll(w io.Writer, rs []Report, opts Options) error {
	if len(rs) == 0 {
		return nil
	}
	p := newPrinter(w)
	p.line(CopyrightLine(rs[0].Program, rs[0].Now.Year()))
	p.str("Flexible License Manager status on ")
	p.buf = appendDate(p.buf, rs[0].Now)
	p.nl()
	p.nl()
	for i := range rs {
		if i > 0 {
			p.line(EntrySeparator)
		}
		p.report(rs[i], opts)
	}
	return p.flush()
}

// report prints one report's body.
func (p *printer) report(r Report, opts Options) {
	switch {
	case r.ConnectErr != "":
		p.str("Error getting status: ")
		p.line(r.ConnectErr)
	case opts.FeatureSet:
		for i := range r.Features {
			f := &r.Features[i]
			if opts.Feature == "" || f.Name == opts.Feature {
				p.feature(&r, f, opts)
			}
		}
	default:
		p.servers(&r)
		if opts.Servers && !opts.All && opts.Vendor == "" {
			break
		}
		p.vendors(&r, opts.Vendor)
		if len(r.Skipped) > 0 {
			p.line("License file lines not served (fix them, then lmreread):")
			for _, s := range r.Skipped {
				p.str("    ")
				p.line(s)
			}
			p.nl()
		}
		if !opts.All && opts.Vendor == "" {
			break
		}
		p.line("Feature usage info:")
		p.nl()
		for i := range r.Features {
			f := &r.Features[i]
			if opts.Vendor == "" || featureVendor(f) == opts.Vendor {
				p.feature(&r, f, opts)
			}
		}
	}
}

// servers prints the server list, the per-server status paragraph and, for
// a triad, the cluster paragraph.
func (p *printer) servers(r *Report) {
	p.str("License server status: ")
	for i, s := range r.Servers {
		if i > 0 {
			p.str(",")
		}
		p.int(s.Port)
		p.str("@")
		p.str(s.Host)
	}
	p.nl()
	p.str("    License file(s) on ")
	p.str(fileHost(r))
	p.str(": ")
	p.str(r.LicenseFile)
	p.line(":")
	p.nl()
	for _, s := range r.Servers {
		p.str(s.Host)
		p.str(": ")
		switch {
		case !s.Up && s.Err != "":
			p.str(s.Err)
		case !s.Up:
			p.str(DefaultServerDownErr)
		default:
			p.str("license server UP ")
			if s.Master {
				p.str("(MASTER) ")
			}
			p.str(withV(s.Version))
		}
		p.nl()
	}
	p.nl()
	if c := r.Cluster; c != nil {
		p.str("Cluster status: ")
		p.line(c.State)
		for _, l := range c.Links {
			p.str("    ")
			p.endpoint(r, l.From)
			p.str(" <-> ")
			p.endpoint(r, l.To)
			switch {
			case l.Up:
				p.line(": up")
			case l.Why != "":
				p.str(": down, ")
				p.line(l.Why)
			default:
				p.line(": down")
			}
		}
		p.nl()
		if len(c.Members) > 0 {
			p.str("Enrolled license files: ")
			if c.Enrolled == "" {
				p.line("none yet")
			} else {
				p.line(c.Enrolled)
			}
			for _, m := range c.Members {
				p.str("    ")
				p.endpoint(r, m.Host)
				switch {
				case m.Digest == "":
					p.str(": sync unknown")
				case m.Digest == c.Enrolled:
					p.str(": in sync")
				default:
					p.str(": not in sync, serves ")
					p.str(m.Digest)
				}
				for _, n := range m.Notes {
					p.str(", ")
					p.str(n)
				}
				p.nl()
			}
			p.nl()
		}
	}
}

func (p *printer) endpoint(r *Report, host string) {
	for _, s := range r.Servers {
		if s.Host == host {
			p.int(s.Port)
			p.str("@")
			break
		}
	}
	p.str(host)
}

// vendorWidth is the field the vendor daemon names are right-aligned in.
const vendorWidth = 10

// vendors prints the vendor daemon paragraph; a non-empty only keeps just
// that daemon's line (-S).
func (p *printer) vendors(r *Report, only string) {
	p.str("Vendor daemon status (on ")
	p.str(vendorHost(r))
	p.line("):")
	p.nl()
	width := vendorWidth
	for _, v := range r.Vendors {
		width = max(width, len(v.Name)+2)
	}
	for _, v := range r.Vendors {
		if only != "" && v.Name != only {
			continue
		}
		p.spaces(width - len(v.Name))
		p.str(v.Name)
		p.str(": ")
		switch {
		case !v.Up && v.Err != "":
			p.str(v.Err)
		case !v.Up:
			p.str(DefaultVendorDownErr)
		default:
			p.str("UP ")
			p.str(withV(v.Version))
		}
		p.nl()
		if v.Up && v.Unsigned {
			p.str("    ")
			p.str(v.Name)
			p.str(": unsigned licenses accepted (lmgrd -unsigned ")
			p.str(v.Name)
			p.line(")")
		}
	}
	p.nl()
}

// feature prints one "Users of" block, ending with a blank line.
func (p *printer) feature(r *Report, f *Feature, opts Options) {
	if opts.ActiveOnly && f.InUse <= 0 && !hasHolders(f) {
		return // lmstat -A: active licenses only
	}
	p.buf = appendFeatureHeader(p.buf, f)
	p.nl()
	p.nl()
	if opts.Named && len(f.Named) > 0 {
		for _, n := range f.Named {
			p.str("    named user ")
			p.str(n.User)
			p.str(", last used ")
			p.buf = appendStart(p.buf, n.LastUsed)
			p.nl()
		}
		p.nl()
	}
	if !f.Uncounted && f.Err == "" && f.InUse <= 0 && !reserved(f) && len(f.Queued) == 0 {
		return
	}
	queued := opts.NoUserInfo || len(f.Queued) == 0 // printed, or nothing to print
	for i := range f.Pools {
		pl := &f.Pools[i]
		if len(pl.Holders) == 0 && len(pl.Reservations) == 0 && (queued || i < len(f.Pools)-1) {
			continue
		}
		p.pool(f, pl)
		for j := range pl.Reservations {
			p.buf = appendReservation(p.buf, r, &pl.Reservations[j])
			p.nl()
		}
		if opts.NoUserInfo {
			if len(pl.Reservations) > 0 {
				p.nl()
			}
			continue
		}
		for j := range pl.Holders {
			p.buf = appendHolder(p.buf, r, &pl.Holders[j], opts)
			p.nl()
		}
		if !queued {
			for j := range f.Queued {
				p.buf = appendQueued(p.buf, r, &f.Queued[j])
				p.nl()
			}
			queued = true
		}
		p.nl()
	}
}

// hasHolders reports whether any pool of f has a user line to print.
func hasHolders(f *Feature) bool {
	for i := range f.Pools {
		if len(f.Pools[i].Holders) > 0 {
			return true
		}
	}
	return false
}

// appendQueued appends one queued user line without a newline: the client's
// version appears twice, bare then as (vX), as FlexLM prints it.
func appendQueued(b []byte, r *Report, h *Holder) []byte {
	b = append(b, "    "...)
	b = append(b, h.User...)
	b = append(b, ' ')
	b = append(b, h.Host...)
	b = append(b, ' ')
	if h.Display != "" {
		b = append(b, h.Display...)
		b = append(b, ' ')
	}
	b = append(b, strings.TrimPrefix(h.Version, "v")...)
	b = append(b, " ("...)
	b = append(b, withV(h.Version)...)
	b = append(b, ") ("...)
	b = appendServerPort(b, r, h.Server, h.Port)
	b = append(b, ' ')
	b = strconv.AppendUint(b, h.Handle, 10)
	b = append(b, ") queued for "...)
	return appendLicenses(b, max(h.Count, 1))
}

// appendServerPort appends "server/port" of a user, queued or
// reservation line: empty server means the report's vendor host (the
// master), port 0 that server's port.
func appendServerPort(b []byte, r *Report, server string, port int) []byte {
	if server == "" {
		server = vendorHost(r)
	}
	if port == 0 {
		port = serverPort(r, server)
	}
	b = append(b, server...)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(port), 10)
}

// reserved reports whether any pool of f has reservations to print.
func reserved(f *Feature) bool {
	for i := range f.Pools {
		if len(f.Pools[i].Reservations) > 0 {
			return true
		}
	}
	return false
}

// appendReservation appends "        N RESERVATIONs for TYPE name (server/port)".
func appendReservation(b []byte, r *Report, res *Reservation) []byte {
	b = append(b, "        "...)
	b = strconv.AppendInt(b, int64(res.Count), 10)
	b = append(b, " RESERVATION"...)
	if res.Count != 1 {
		b = append(b, 's')
	}
	b = append(b, " for "...)
	b = append(b, res.Type...)
	b = append(b, ' ')
	b = append(b, res.Name...)
	b = append(b, " ("...)
	b = appendServerPort(b, r, res.Server, res.Port)
	return append(b, ')')
}

// pool prints a pool's description and the blank line after it.
func (p *printer) pool(f *Feature, pl *Pool) {
	name := pl.Name
	if name == "" {
		name = f.Name
	}
	p.str(`  "`)
	p.str(name)
	p.str(`" `)
	p.str(withV(pl.Version))
	p.str(", vendor: ")
	p.str(pl.Vendor)
	p.str(", expiry: ")
	if pl.Expiry == "" {
		p.str("permanent(no expiration date)")
	} else {
		p.str(pl.Expiry)
	}
	p.nl()
	if pl.VendorString != "" {
		p.str("  vendor_string: ")
		p.line(pl.VendorString)
	}
	p.line(licenseType(pl))
	p.nl()
}

// licenseType is the line saying how a pool may be used.
func licenseType(pl *Pool) string {
	switch {
	case pl.Uncounted && (pl.NodeLocked == "" || pl.NodeLocked == "ANY"):
		return "  uncounted nodelocked license locked to NOTHING (hostid=ANY)"
	case pl.Uncounted:
		return `  uncounted nodelocked license, locked to "` + pl.NodeLocked + `"`
	case pl.NodeLocked != "":
		return `  nodelocked license, locked to "` + pl.NodeLocked + `"`
	default:
		return "  floating license"
	}
}

// appendFeatureHeader appends "Users of F:  (...)" without a newline.
func appendFeatureHeader(b []byte, f *Feature) []byte {
	b = append(b, "Users of "...)
	b = append(b, f.Name...)
	b = append(b, ":  ("...)
	switch {
	case f.Err != "":
		// FlexLM keeps the plural here even for one license.
		b = append(b, "Error: "...)
		b = strconv.AppendInt(b, int64(f.Issued), 10)
		b = append(b, " licenses, "...)
		b = append(b, f.Err...)
	case f.Uncounted:
		b = append(b, "Uncounted, node-locked"...)
	default:
		b = append(b, "Total of "...)
		b = appendLicenses(b, f.Issued)
		b = append(b, " issued;  Total of "...)
		b = appendLicenses(b, f.InUse)
		b = append(b, " in use"...)
	}
	return append(b, ')')
}

// appendLicenses appends "1 license" or "N licenses".
func appendLicenses(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	if n == 1 {
		return append(b, " license"...)
	}
	return append(b, " licenses"...)
}

// appendHolder appends one user line without a newline.
func appendHolder(b []byte, r *Report, h *Holder, opts Options) []byte {
	b = append(b, "    "...)
	b = append(b, h.User...)
	b = append(b, ' ')
	b = append(b, h.Host...)
	b = append(b, ' ')
	if h.Display != "" {
		b = append(b, h.Display...)
		b = append(b, ' ')
	}
	b = append(b, '(')
	b = append(b, withV(h.Version)...)
	b = append(b, ") ("...)
	b = appendServerPort(b, r, h.Server, h.Port)
	b = append(b, ' ')
	b = strconv.AppendUint(b, h.Handle, 10)
	b = append(b, "), start "...)
	b = appendStart(b, h.Start)
	if opts.Seconds { // lmstat -asec
		b = append(b, ':')
		if h.Start.Second() < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, int64(h.Start.Second()), 10)
	}
	if h.Count > 1 {
		b = append(b, ", "...)
		b = strconv.AppendInt(b, int64(h.Count), 10)
		b = append(b, " licenses"...)
	}
	if h.Linger > 0 {
		b = append(b, "  (linger: "...)
		b = strconv.AppendInt(b, int64(max(h.LingerLeft, 0)/time.Second), 10)
		b = append(b, " / "...)
		b = strconv.AppendInt(b, int64(h.Linger/time.Second), 10)
		b = append(b, ')')
	}
	if !h.BorrowedUntil.IsZero() && h.Linger == 0 {
		b = append(b, "  (linger: "...)
		b = strconv.AppendInt(b, int64(max(h.BorrowedUntil.Sub(r.Now), 0)/time.Second), 10)
		b = append(b, " / "...)
		b = strconv.AppendInt(b, int64(max(h.BorrowedUntil.Sub(h.Start), 0)/time.Second), 10)
		b = append(b, ')')
	}
	if opts.ShowPID && h.PID > 0 {
		b = append(b, ", PID: "...)
		b = strconv.AppendInt(b, int64(h.PID), 10)
	}
	return b
}

// appendDate appends "Mon 2/10/2025 11:26", the date line's stamp: no zero
// padding on month, day and hour. Go's layouts have no unpadded 24-hour
// clock, hence by hand.
func appendDate(b []byte, t time.Time) []byte {
	b = appendMonthDay(b, t)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(t.Year()), 10)
	b = append(b, ' ')
	return appendClock(b, t)
}

// appendStart appends "Mon 2/10 11:26", the checkout time of a user line.
func appendStart(b []byte, t time.Time) []byte {
	b = appendMonthDay(b, t)
	b = append(b, ' ')
	return appendClock(b, t)
}

// appendMonthDay appends "Mon 2/10".
func appendMonthDay(b []byte, t time.Time) []byte {
	b = append(b, t.Weekday().String()[:3]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(t.Month()), 10)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(t.Day()), 10)
}

func appendClock(b []byte, t time.Time) []byte {
	b = strconv.AppendInt(b, int64(t.Hour()), 10)
	b = append(b, ':')
	if t.Minute() < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(t.Minute()), 10)
}

// withV returns version with one leading "v"; empty stays empty.
func withV(version string) string {
	if version == "" || version[0] == 'v' {
		return version
	}
	return "v" + version
}

func fileHost(r *Report) string {
	if r.FileHost != "" {
		return r.FileHost
	}
	if len(r.Servers) > 0 {
		return r.Servers[0].Host
	}
	return ""
}

func vendorHost(r *Report) string {
	if r.VendorHost != "" {
		return r.VendorHost
	}
	for _, s := range r.Servers {
		if s.Master {
			return s.Host
		}
	}
	return fileHost(r)
}

func serverPort(r *Report, host string) int {
	for _, s := range r.Servers {
		if s.Host == host {
			return s.Port
		}
	}
	return 0
}

func featureVendor(f *Feature) string {
	if f.Vendor != "" || len(f.Pools) == 0 {
		return f.Vendor
	}
	return f.Pools[0].Vendor
}

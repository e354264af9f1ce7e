package lmstat

import (
	"io"
	"strconv"
	"strings"
	"time"
)

// IncrementLine is one FEATURE/INCREMENT line of the license file, as
// `lmstat -i` lists it.
type IncrementLine struct {
	Feature string
	Version string // "2018.12", printed without a "v"
	Count   int    // 0 for uncounted lines
	// Expires is printed as given ("31-dec-2018"); empty prints "1-jan-0",
	// FlexLM's spelling of a permanent line in this listing.
	Expires string
	Vendor  string
}

// incrementsNote is the fixed preamble of `lmstat -i`.
const incrementsNote = `NOTE: lmstat -i does not give information from the server,
      but only reads the license file.  For this reason,
      lmstat -a is recommended instead.

Feature                         Version     #licenses    Expires      Vendor
_______                         _________   _________    __________   ______
`

// Column starts of the -i table (lmstat_i_app1.txt): Version at 32,
// #licenses at 45 (one right of its heading), Expires at 57, Vendor at 70.
const (
	incFeatureWidth = 32
	incVersionWidth = 13
	incCountWidth   = 12
	incExpiresWidth = 13
)

// WriteIncrements prints the `lmstat -i` table in the Feature, Version,
// #licenses, Expires, Vendor column order. A value wider than its column
// still gets one space after it, so the columns stay separable.
func WriteIncrements(w io.Writer, lines []IncrementLine) error {
	p := newPrinter(w)
	p.str(incrementsNote)
	for _, l := range lines {
		p.column(l.Feature, incFeatureWidth)
		p.column(l.Version, incVersionWidth)
		p.column(strconv.Itoa(l.Count), incCountWidth)
		exp := l.Expires
		if exp == "" {
			exp = "1-jan-0"
		}
		p.column(exp, incExpiresWidth)
		p.line(l.Vendor)
	}
	return p.flush()
}

// column prints s left-aligned in width, with at least one space after it.
func (p *printer) column(s string, width int) {
	p.str(s)
	p.spaces(max(1, width-len(s)))
}

// IncrementsReport is a whole `lmstat -i` output: FlexLM's banner and
// date, the NOTE paragraph and the table.
type IncrementsReport struct {
	Program string // lmutil or lmstat, for the banner
	Now     time.Time
	Lines   []IncrementLine
	// ExpiresFirst selects the older column order (Expires before Vendor,
	// "1-jan-0" for a permanent line); the default is the newer one
	// (Vendor before Expires, "permanent(no expiration date)"), as in
	// reference/lmstat/lmstat_i_app2.txt.
	ExpiresFirst bool
}

const incrementsNoteText = `NOTE: lmstat -i does not give information from the server,
      but only reads the license file.  For this reason,
      lmstat -a is recommended instead.

`

// WriteIncrementsReport prints r as `lmutil lmstat -i` does: tools skip
// its fixed header lines (banner, date, blank, NOTE) before the table.
func WriteIncrementsReport(w io.Writer, r IncrementsReport) error {
	p := newPrinter(w)
	p.line(CopyrightLine(r.Program, r.Now.Year()))
	p.str("Flexible License Manager status on ")
	p.buf = appendDate(p.buf, r.Now)
	p.nl()
	p.nl()
	if err := p.flush(); err != nil {
		return err
	}
	if r.ExpiresFirst {
		return WriteIncrements(w, r.Lines)
	}
	p.str(incrementsNoteText)
	p.line("Feature                         Version     #licenses    Vendor        Expires")
	p.line("_______                         _________   _________    ______        ________")
	for _, l := range r.Lines {
		p.column(l.Feature, 33)
		p.column(l.Version, 13)
		p.column(strconv.Itoa(l.Count), 12)
		p.column(l.Vendor, 13)
		exp := l.Expires
		if exp == "" || strings.EqualFold(exp, "permanent") {
			exp = "permanent(no expiration date)"
		}
		p.line(exp)
	}
	return p.flush()
}

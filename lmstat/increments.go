package lmstat

import (
	"io"
	"strconv"
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

package licfile

import (
	"sort"
	"strconv"
	"strings"
)

// CanonicalHeader is the first line of every canonical form. A future form
// gets a new header, so that bytes of one can never be taken for the other.
const CanonicalHeader = "lmtriad-license-v1"

// Canonical returns the canonical form of a FEATURE, INCREMENT or UPGRADE
// line: the bytes a license signature covers (package licsign). It depends
// only on what the line grants, not on how the file writes it: blanks,
// continuation lines, quotes, the case of attribute keywords and the order
// of the attributes make no difference. The form is a contract with vendors
// who sign licenses with their own tools; it never changes (a new form gets a
// new CanonicalHeader). It is a sequence of records, each ended by '\n':
//
//	lmtriad-license-v1           the header, CanonicalHeader
//	FEATURE                      the line keyword, upper case: FEATURE, INCREMENT, UPGRADE (or PACKAGE)
//	name=LEN:VALUE               the positional fields, in this order, under these lower-case names:
//	vendor=LEN:VALUE               FEATURE, INCREMENT: name vendor version expiry count
//	version=LEN:VALUE              UPGRADE:   name vendor from-version version expiry count
//	expiry=LEN:VALUE               PACKAGE:   name vendor version (empty when the line has none)
//	count=LEN:VALUE
//	KEY=LEN:VALUE                then every attribute KEY=value, and
//	KEY                          every bare attribute (flag) such as TS_OK or SUPERSEDE
//
// LEN is the length of VALUE in bytes, in decimal without leading zeros, so
// that a value may hold any byte (a quoted value may hold blanks, '=' or
// ':'). VALUE is the field as parsed: the text of the file with its quotes
// removed and a continuation inside quotes joined by one blank. Two fields
// are normalised because FlexLM reads them as numbers or dates: expiry is
// written as Date.String writes it (d-mmm-yyyy with a lower-case month and
// no leading zero in the day; "permanent" for permanent, 0, or a year 0),
// and count in decimal without leading zeros, or "uncounted" for an
// uncounted line (uncounted and 0).
//
// Attribute keys are upper case (FlexLM reads them in any case); values keep
// their case. Attribute records are sorted by their bytes, so the order in
// the file does not matter; an attribute written twice (only unknown
// keywords may repeat) gives two records. Every attribute is covered, known
// or not, including ones FlexLM treats as cosmetic (SORT, CK, ASSET_INFO...):
// editing any of them invalidates the signature. Only the signature itself is
// left out: SIGN= in any case and an old-style license key written after the
// count. SERVER, VENDOR and USE_SERVER lines are never covered: a customer
// may move a license to other servers and daemons.
//
// A Feature built in code signs as it prints: a decoded field (HostID,
// Issued...) without an attribute in Attrs counts as that attribute.
func (f *Feature) Canonical() []byte {
	var c canon
	c.begin(f.Kind.String())
	c.field("name", f.Name)
	c.field("vendor", f.Vendor)
	if f.Kind == KindUpgrade {
		c.field("from-version", f.FromVersion)
	}
	c.field("version", f.Version)
	c.field("expiry", f.Expiry.String())
	count := strconv.Itoa(f.Count)
	if f.Uncounted || f.Count == 0 {
		count = "uncounted"
	}
	c.field("count", count)
	return c.attrs(f.Attrs, missingAttrs(f))
}

// Canonical returns the canonical form of a PACKAGE line, as
// Feature.Canonical describes it. A Package built in code without a
// COMPONENTS or OPTIONS attribute counts as having those Print writes.
func (p *Package) Canonical() []byte {
	var c canon
	c.begin("PACKAGE")
	c.field("name", p.Name)
	c.field("vendor", p.Vendor)
	c.field("version", p.Version)
	return c.attrs(p.Attrs, packageAttrs(p))
}

// SignedLine is a FEATURE, INCREMENT, UPGRADE or PACKAGE line as a signature
// sees it.
type SignedLine struct {
	Pos       Pos
	Keyword   string // FEATURE, INCREMENT, UPGRADE or PACKAGE
	Name      string
	Vendor    string
	Sign      string // the signature as parsed: SIGN=, else AUTH=, else the bare key
	Canonical []byte
}

// SignedLines returns f's FEATURE, INCREMENT, UPGRADE and PACKAGE lines in
// file order, each with its canonical form.
func (f *File) SignedLines() []SignedLine {
	out := make([]SignedLine, 0, len(f.Features)+len(f.Packages))
	for i := range f.Features {
		ft := &f.Features[i]
		out = append(out, SignedLine{Pos: ft.Pos, Keyword: ft.Kind.String(), Name: ft.Name,
			Vendor: ft.Vendor, Sign: ft.Sign, Canonical: ft.Canonical()})
	}
	for i := range f.Packages {
		pk := &f.Packages[i]
		out = append(out, SignedLine{Pos: pk.Pos, Keyword: "PACKAGE", Name: pk.Name,
			Vendor: pk.Vendor, Sign: pk.Sign, Canonical: pk.Canonical()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pos.Line < out[j].Pos.Line })
	return out
}

// canon builds a canonical form.
type canon struct{ b []byte }

func (c *canon) begin(keyword string) {
	c.b = append(c.b, CanonicalHeader+"\n"...)
	c.b = append(c.b, keyword...)
	c.b = append(c.b, '\n')
}

func (c *canon) field(key, value string) { c.b = appendRecord(c.b, key, value, false) }

func appendRecord(b []byte, key, value string, flag bool) []byte {
	b = append(b, key...)
	if !flag {
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, ':')
		b = append(b, value...)
	}
	return append(b, '\n')
}

// attrs appends the records of attrs and extra, sorted, and returns the form.
func (c *canon) attrs(attrs, extra []Attr) []byte {
	recs := make([]string, 0, len(attrs)+len(extra))
	for _, l := range [][]Attr{attrs, extra} {
		for _, a := range l {
			key := strings.ToUpper(a.Key)
			if key == "SIGN" {
				continue
			}
			recs = append(recs, string(appendRecord(nil, key, a.Value, a.Flag)))
		}
	}
	sort.Strings(recs)
	for _, r := range recs {
		c.b = append(c.b, r...)
	}
	return c.b
}

// packageAttrs returns the COMPONENTS and OPTIONS attributes Print adds to
// a Package whose Attrs lack them.
func packageAttrs(p *Package) []Attr {
	var out []Attr
	if !hasAttr(p.Attrs, "COMPONENTS") {
		comps := make([]string, len(p.Components))
		for i, c := range p.Components {
			comps[i] = c.Name
			if c.Version != "" || c.Count != 0 {
				comps[i] += ":" + c.Version
			}
			if c.Count != 0 {
				comps[i] += ":" + strconv.Itoa(c.Count)
			}
		}
		out = append(out, Attr{Key: "COMPONENTS", Value: strings.Join(comps, " ")})
	}
	if p.Suite && !hasAttr(p.Attrs, "OPTIONS") {
		out = append(out, Attr{Key: "OPTIONS", Value: "SUITE"})
	}
	return out
}

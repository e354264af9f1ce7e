package licfile

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// printWidth is where Print breaks a long line with a continuation.
const printWidth = 80

// Print writes f in canonical form: SERVER lines, VENDOR lines, USE_SERVER,
// then FEATURE, INCREMENT, UPGRADE and PACKAGE lines in file order; upper-case
// line keywords, single blanks, quotes only where needed, and lines longer
// than 80 columns continued with a backslash and a tab. Comments, FEATURESET
// lines and unknown VENDOR keywords are not kept. Parsing the output gives
// back the same File apart from positions.
//
// Optional attributes are written from Attrs, keys as spelled there. A
// decoded field (HostID, Issued, Supersede...) that has no attribute in Attrs
// is written too, so that a File built in code prints completely.
func Print(w io.Writer, f *File) error {
	pr := &printer{w: bufio.NewWriter(w)}
	for _, s := range f.Servers {
		fields := []string{pr.pos(s.Host), pr.pos(s.HostID)}
		if s.Port != 0 {
			fields = append(fields, strconv.Itoa(s.Port))
		}
		if s.PrimaryIsMaster {
			fields = append(fields, "PRIMARY_IS_MASTER")
		}
		if s.HeartbeatInterval != 0 {
			fields = append(fields, "HEARTBEAT_INTERVAL="+strconv.Itoa(s.HeartbeatInterval))
		}
		pr.line("SERVER", append(fields, pr.attrs(s.Attrs)...))
	}
	for _, v := range f.Vendors {
		fields := []string{pr.pos(v.Name)}
		if v.Path != "" {
			fields = append(fields, pr.pos(v.Path))
		}
		if v.Options != "" {
			fields = append(fields, "OPTIONS="+pr.val(v.Options))
		}
		if v.Port != 0 {
			fields = append(fields, "PORT="+strconv.Itoa(v.Port))
		}
		pr.line("VENDOR", fields)
	}
	if f.UseServer {
		pr.line("USE_SERVER", nil)
	}
	fs, ps := f.Features, f.Packages
	for len(fs) > 0 || len(ps) > 0 {
		if len(ps) == 0 || len(fs) > 0 && fs[0].Pos.Line <= ps[0].Pos.Line {
			pr.feature(&fs[0])
			fs = fs[1:]
		} else {
			pr.pkg(&ps[0])
			ps = ps[1:]
		}
	}
	if pr.err != nil {
		return pr.err
	}
	return pr.w.Flush()
}

type printer struct {
	w   *bufio.Writer
	err error // the first error; later writes are skipped
}

// quote returns s as one field, in quotes when it needs them.
func (pr *printer) quote(s string, positional bool) string {
	if strings.ContainsAny(s, "\"\n") {
		if pr.err == nil {
			pr.err = fmt.Errorf("licfile: %q cannot be written in a license file: it holds a quote or a newline", s)
		}
		return s
	}
	if needsQuotes(s, positional) {
		return `"` + s + `"`
	}
	return s
}

func (pr *printer) pos(s string) string { return pr.quote(s, true) }
func (pr *printer) val(s string) string { return pr.quote(s, false) }

func (pr *printer) attrs(attrs []Attr) []string {
	out := make([]string, 0, len(attrs))
	for _, a := range attrs {
		if !validKey(a.Key) && pr.err == nil {
			pr.err = fmt.Errorf("licfile: attribute keyword %q cannot be written in a license file", a.Key)
		}
		if a.Flag {
			out = append(out, a.Key)
		} else {
			out = append(out, a.Key+"="+pr.val(a.Value))
		}
	}
	return out
}

// line writes one logical line, breaking it between fields when it grows
// past printWidth.
func (pr *printer) line(kw string, fields []string) {
	if pr.err != nil {
		return
	}
	pr.w.WriteString(kw)
	col := len(kw)
	for _, fld := range fields {
		if col+1+len(fld) > printWidth && col > 8 {
			pr.w.WriteString(" \\\n\t")
			col = 8
		} else {
			pr.w.WriteByte(' ')
			col++
		}
		pr.w.WriteString(fld)
		col += len(fld)
	}
	pr.w.WriteByte('\n')
}

// hasAttr reports whether attrs has one of keys, in any case.
func hasAttr(attrs []Attr, keys ...string) bool {
	for _, a := range attrs {
		for _, k := range keys {
			if strings.EqualFold(a.Key, k) {
				return true
			}
		}
	}
	return false
}

func (pr *printer) feature(f *Feature) {
	fields := []string{pr.pos(f.Name), pr.pos(f.Vendor)}
	if f.Kind == KindUpgrade {
		fields = append(fields, pr.pos(f.FromVersion))
	}
	expiry := f.ExpiryText
	if expiry == "" {
		expiry = f.Expiry.String()
	}
	count := strconv.Itoa(f.Count)
	if f.Uncounted {
		count = "uncounted"
	}
	fields = append(fields, pr.pos(f.Version), pr.pos(expiry), count)

	attrs := f.Attrs
	if f.Sign != "" && !hasAttr(attrs, "SIGN", "AUTH") {
		if isHex(f.Sign) {
			fields = append(fields, f.Sign)
		} else {
			attrs = append(attrs, Attr{Key: "SIGN", Value: f.Sign})
		}
	}
	attrs = append(attrs, missingAttrs(f)...)
	pr.line(f.Kind.String(), append(fields, pr.attrs(attrs)...))
}

// missingAttrs returns attributes for f's decoded fields that f.Attrs lacks.
func missingAttrs(f *Feature) []Attr {
	var out []Attr
	str := func(key, v string) {
		if v != "" && !hasAttr(f.Attrs, key) {
			out = append(out, Attr{Key: key, Value: v})
		}
	}
	date := func(key string, d Date) {
		if !d.IsZero() {
			str(key, d.String())
		}
	}
	flag := func(key string, on bool, n int) {
		if on && !hasAttr(f.Attrs, key) {
			if n != 0 {
				out = append(out, Attr{Key: key, Value: strconv.Itoa(n)})
			} else {
				out = append(out, Attr{Key: key, Flag: true})
			}
		}
	}
	str("HOSTID", f.HostID)
	str("VENDOR_STRING", f.VendorString)
	str("ISSUER", f.Issuer)
	date("ISSUED", f.Issued)
	str("NOTICE", f.Notice)
	str("SN", f.SN)
	date("START", f.Start)
	str("DUP_GROUP", f.DupGroup)
	if f.Overdraft != 0 {
		str("OVERDRAFT", strconv.Itoa(f.Overdraft))
	}
	if len(f.Supersede) == 1 && f.Supersede[0] == f.Name {
		flag("SUPERSEDE", true, 0)
	} else if len(f.Supersede) > 0 {
		str("SUPERSEDE", strings.Join(f.Supersede, " "))
	}
	flag("USER_BASED", f.UserBased, 0)
	flag("HOST_BASED", f.HostBased, 0)
	if f.Borrow == defaultBorrowHours {
		flag("BORROW", true, 0)
	} else {
		flag("BORROW", f.Borrow != 0, f.Borrow)
	}
	flag("FLOAT_OK", f.FloatOK, 0)
	flag("TS_OK", f.TSOK, 0)
	return out
}

func (pr *printer) pkg(p *Package) {
	fields := []string{pr.pos(p.Name), pr.pos(p.Vendor)}
	if p.Version != "" {
		fields = append(fields, pr.pos(p.Version))
	}
	attrs := append(p.Attrs[:len(p.Attrs):len(p.Attrs)], packageAttrs(p)...)
	if p.Sign != "" && !hasAttr(attrs, "SIGN", "AUTH") {
		// Without a version, a key that reads as one would come back as the version.
		if isHex(p.Sign) && (p.Version != "" || !ValidVersion(p.Sign)) {
			fields = append(fields, p.Sign)
		} else {
			attrs = append(attrs, Attr{Key: "SIGN", Value: p.Sign})
		}
	}
	pr.line("PACKAGE", append(fields, pr.attrs(attrs)...))
}

package licfile

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ErrorList is every error found in one or more license files, in file and
// line order. Parse and Load return one as their error.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = errorText(e)
	}
	return strings.Join(lines, "\n")
}

// errorText is e.Error() without the ":0" of problems that concern a whole
// file or a search-path entry rather than one line.
func errorText(e *Error) string {
	if e.Pos.Line == 0 {
		return e.Pos.File + ": " + e.Msg
	}
	return e.Error()
}

// ParseFile reads and parses the license file at path. A read failure is
// returned as it comes from the os package; parse errors as an ErrorList.
func ParseFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses a license file named name. It returns every line it could
// read even when it also returns errors: the error is nil or an ErrorList
// holding every problem found, and a line with an error is left out of the
// File. Warnings (unknown attribute keywords, ignored lines) go into
// File.Warnings and never make the parse fail.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{f: &File{Name: name}}
	lines := splitLines(data)
	p.f.Features = make([]Feature, 0, len(lines)) // most lines are feature lines
	for _, ll := range lines {
		p.line(ll)
	}
	p.checkFile()
	if len(p.f.Features) == 0 {
		p.f.Features = nil
	}
	sortErrors(p.errs)
	sortErrors(p.f.Warnings)
	if len(p.errs) > 0 {
		return p.f, p.errs
	}
	return p.f, nil
}

func sortErrors(l []*Error) {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.Line < l[j].Pos.Line })
}

type parser struct {
	f    *File
	errs ErrorList
	pos  Pos    // of the line being parsed
	kw   string // its keyword, upper case, for messages
	toks []token
}

func (p *parser) errorf(format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos, Msg: p.msg(format, args)})
}

func (p *parser) warnf(format string, args ...any) {
	p.f.Warnings = append(p.f.Warnings, &Error{Pos: p.pos, Msg: p.msg(format, args)})
}

// msg prefixes a message with the line's keyword (and feature name).
func (p *parser) msg(format string, args []any) string {
	if p.kw == "" {
		return fmt.Sprintf(format, args...)
	}
	return p.kw + ": " + fmt.Sprintf(format, args...)
}

// Size limits of a license line (docs/protocol.md §10): a line the vendor
// daemons serve travels inside status records, and its attributes are
// shown by lmstat; a longer one is refused at load, with its file:line.
const (
	MaxLineBytes  = 16 << 10 // a logical line, continuations joined
	MaxValueBytes = 4 << 10  // one attribute value: VENDOR_STRING, NOTICE, ...
)

func (p *parser) line(ll logicalLine) {
	p.pos = Pos{File: p.f.Name, Line: ll.line}
	if len(ll.text) > MaxLineBytes {
		p.kw = ""
		p.errorf("line of %d bytes, at most %d", len(ll.text), MaxLineBytes)
		return
	}
	toks, err := tokenize(ll.text, p.toks)
	p.toks = toks // reused by the next line: nothing keeps a token
	p.kw = ""
	if len(toks) > 0 {
		p.kw = strings.ToUpper(toks[0].text)
	}
	if err != nil {
		p.errorf("%v", err)
		return
	}
	if len(toks) == 0 { // a continuation of nothing but a comment
		return
	}
	if toks[0].quoted || toks[0].hasEq {
		p.kw = ""
		p.errorf("%q is not a keyword: want SERVER, VENDOR, USE_SERVER, FEATURE, INCREMENT, UPGRADE or PACKAGE", toks[0].text)
		return
	}
	n := len(p.errs)
	args := toks[1:]
	switch p.kw {
	case "SERVER":
		s := p.server(args)
		if len(p.errs) == n {
			p.f.Servers = append(p.f.Servers, s)
		}
	case "VENDOR", "DAEMON":
		p.kw = "VENDOR"
		v := p.vendor(args)
		if len(p.errs) == n {
			p.f.Vendors = append(p.f.Vendors, v)
		}
	case "USE_SERVER":
		if len(args) > 0 {
			p.warnf("takes no arguments; %q ignored", args[0].text)
		}
		p.f.UseServer = true
	case "FEATURE", "INCREMENT", "UPGRADE":
		ft := p.feature(args)
		if len(p.errs) == n {
			p.f.Features = append(p.f.Features, ft)
		}
	case "PACKAGE":
		pk := p.pkg(args)
		if len(p.errs) == n {
			p.f.Packages = append(p.f.Packages, pk)
		}
	case "FEATURESET":
		p.warnf("obsolete line ignored")
	default:
		p.kw = ""
		p.errorf("unknown keyword %q: want SERVER, VENDOR, USE_SERVER, FEATURE, INCREMENT, UPGRADE or PACKAGE", toks[0].text)
	}
}

// validName reports whether s can be a feature, vendor or host name: it must
// print as one unquoted field.
func validName(s string) bool {
	return s != "" && !needsQuotes(s, true) && !strings.ContainsAny(s, `"\`)
}

// validKey reports whether s can be an attribute keyword.
func validKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// attr turns a field into an Attr, or reports why it cannot be one.
func (p *parser) attr(t token) (Attr, bool) {
	if !t.hasEq {
		if !validKey(t.text) {
			p.errorf("%q: want KEYWORD=value or a keyword", t.text)
			return Attr{}, false
		}
		return Attr{Key: t.text, Flag: true}, true
	}
	if !validKey(t.key) {
		p.errorf("%q: want KEYWORD=value", t.text)
		return Attr{}, false
	}
	if len(t.value) > MaxValueBytes {
		p.errorf("%s is %d bytes, at most %d", strings.ToUpper(t.key), len(t.value), MaxValueBytes)
		return Attr{}, false
	}
	return Attr{Key: t.key, Value: t.value}, true
}

// number parses a non-negative count that fits FlexLM's 32-bit integers.
func number(s string) (int, bool) {
	if !allDigits(s) || len(s) > 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

func (p *parser) port(what, s string, min int) (int, bool) {
	n, ok := number(s)
	if !ok || n < min || n > 65535 {
		p.errorf("%s %q: want a number from %d to 65535", what, s, min)
		return 0, false
	}
	return n, true
}

// server parses SERVER host hostid [port] [PRIMARY_IS_MASTER]
// [HEARTBEAT_INTERVAL=s|SERVER_TIMEOUT=s] [PLAT=n]. PRIMARY_IS_MASTER may come
// before or after the port; anything given twice is an error.
func (p *parser) server(args []token) Server {
	s := Server{Pos: p.pos}
	if len(args) < 2 {
		p.errorf("want SERVER host hostid [port], got %d field(s)", len(args))
		return s
	}
	s.Host, s.HostID = args[0].text, args[1].text
	if !validName(s.Host) {
		p.errorf("host %q: want a host name", s.Host)
	}
	if s.HostID == "" {
		p.errorf("empty hostid")
	}
	var gotPort, gotHB bool
	for _, t := range args[2:] {
		switch up := strings.ToUpper(t.key); {
		case !t.hasEq && allDigits(t.text):
			if gotPort {
				p.errorf("second port %q", t.text)
			}
			gotPort = true
			s.Port, _ = p.port("port", t.text, 1)
		case !t.hasEq && strings.EqualFold(t.text, "PRIMARY_IS_MASTER"):
			if s.PrimaryIsMaster {
				p.errorf("PRIMARY_IS_MASTER given twice")
			}
			s.PrimaryIsMaster = true
		case t.hasEq && (up == "HEARTBEAT_INTERVAL" || up == "SERVER_TIMEOUT"):
			if gotHB {
				p.errorf("%s given twice (SERVER_TIMEOUT is another name for HEARTBEAT_INTERVAL)", t.key)
			}
			gotHB = true
			n, ok := number(t.value)
			if !ok || n > 120 {
				p.errorf("%s=%q: want seconds from 0 to 120", t.key, t.value)
			}
			s.HeartbeatInterval = n
		default:
			a, ok := p.attr(t)
			if !ok {
				continue
			}
			if !strings.EqualFold(a.Key, "PLAT") {
				p.warnf("unknown keyword %s kept", a.Key)
			}
			s.Attrs = append(s.Attrs, a)
		}
	}
	return s
}

// vendor parses VENDOR name [path] [[OPTIONS=]file] [[PORT=]port] and the old
// DAEMON name path [options]. Keys are matched in any case (port=2080).
func (p *parser) vendor(args []token) Vendor {
	v := Vendor{Pos: p.pos}
	if len(args) == 0 {
		p.errorf("want VENDOR name [path] [[OPTIONS=]file] [[PORT=]port]")
		return v
	}
	v.Name = args[0].text
	if !validName(v.Name) {
		p.errorf("vendor name %q: want a daemon name", v.Name)
	}
	var gotPath, gotOptions, gotPort bool
	once := func(what string, done *bool) {
		if *done {
			p.errorf("%s given twice", what)
		}
		*done = true
	}
	for _, t := range args[1:] {
		switch up := strings.ToUpper(t.key); {
		case t.hasEq && up == "OPTIONS":
			once("options file", &gotOptions)
			v.Options = t.value
		case t.hasEq && up == "PORT":
			once("port", &gotPort)
			v.Port, _ = p.port("PORT", t.value, 0)
		case t.hasEq:
			p.warnf("unknown keyword %s ignored", t.key)
		case !gotPath && !gotOptions && !gotPort:
			once("path", &gotPath)
			v.Path = t.text
		case allDigits(t.text):
			once("port", &gotPort)
			v.Port, _ = p.port("port", t.text, 0)
		case !gotOptions && !gotPort:
			once("options file", &gotOptions)
			v.Options = t.text
		default:
			p.errorf("unexpected field %q: want [path] [[OPTIONS=]file] [[PORT=]port]", t.text)
		}
	}
	if gotPath && v.Path == "" {
		p.errorf("empty daemon path")
	}
	if gotOptions && v.Options == "" {
		p.errorf("empty options file")
	}
	return v
}

// valueRule tells whether an attribute keyword takes a value.
type valueRule int

const (
	valueRequired valueRule = iota
	valueOptional
	valueNone
)

// knownAttrs are the attribute keywords of FEATURE, INCREMENT, UPGRADE and
// PACKAGE lines (flexlm.md §1.5, §1.7), upper case.
var knownAttrs = map[string]valueRule{
	"HOSTID": valueRequired, "VENDOR_STRING": valueRequired, "ISSUER": valueRequired,
	"ISSUED": valueRequired, "NOTICE": valueRequired, "SN": valueRequired,
	"START": valueRequired, "DUP_GROUP": valueRequired, "OVERDRAFT": valueRequired,
	"SUPERSEDE": valueOptional, "USER_BASED": valueOptional, "HOST_BASED": valueOptional,
	"BORROW": valueOptional, "FLOAT_OK": valueOptional, "TS_OK": valueNone, "ONE_TS_OK": valueNone,
	"CK": valueRequired, "SIGN": valueRequired, "SIGN2": valueRequired, "AUTH": valueRequired,
	"PLATFORMS": valueRequired, "TZ": valueRequired, "VM_PLATFORMS": valueRequired,
	"SUITE_DUP_GROUP": valueRequired, "SUITE_RESERVED": valueNone, "SUPERSEDE_SIGN": valueRequired,
	"ASSET_INFO": valueRequired, "DIST_INFO": valueRequired, "USER_INFO": valueRequired,
	"VENDOR_INFO": valueRequired, "SORT": valueRequired,
	"COMPONENTS": valueRequired, "OPTIONS": valueRequired, // PACKAGE only
}

// defaultBorrowHours is what a bare BORROW allows: one week.
const defaultBorrowHours = 168

// attrs reads the optional attributes of a FEATURE-like line into a list,
// checking each known keyword's value rule and reporting repeats.
func (p *parser) attrs(toks []token, packageLine bool) []Attr {
	if len(toks) == 0 {
		return nil
	}
	out := make([]Attr, 0, len(toks))
	seen := map[string]bool{}
	for _, t := range toks {
		a, ok := p.attr(t)
		if !ok {
			continue
		}
		up := strings.ToUpper(a.Key)
		rule, known := knownAttrs[up]
		if (up == "COMPONENTS" || up == "OPTIONS") && !packageLine {
			known = false
		}
		switch {
		case !known:
			p.warnf("unknown keyword %s kept", a.Key)
		case seen[up]:
			p.errorf("%s given twice", a.Key)
		case rule == valueRequired && a.Flag:
			p.errorf("%s needs a value: %s=...", a.Key, a.Key)
		case rule == valueNone && !a.Flag:
			p.errorf("%s takes no value", a.Key)
		}
		if known {
			seen[up] = true
		}
		out = append(out, a)
	}
	return out
}

// isHex reports whether s is a bare license key: hex digits only.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// bareKey reports whether t, the first field after the positional ones, is an
// old-style license key rather than a flag such as TS_OK.
func bareKey(t token) bool {
	_, flag := knownAttrs[strings.ToUpper(t.text)]
	return !t.hasEq && !flag && isHex(t.text)
}

// feature parses FEATURE|INCREMENT name vendor version expiry count [key]
// attrs... and UPGRADE name vendor from to expiry count [key] attrs...
func (p *parser) feature(args []token) Feature {
	f := Feature{Pos: p.pos}
	switch p.kw {
	case "FEATURE":
		f.Kind = KindFeature
	case "INCREMENT":
		f.Kind = KindIncrement
	default:
		f.Kind = KindUpgrade
	}
	npos := 5
	want := "name vendor version expiry count"
	if f.Kind == KindUpgrade {
		npos = 6
		want = "name vendor from-version to-version expiry count"
	}
	if len(args) < npos {
		p.errorf("want %s %s SIGN=..., got %d field(s)", p.kw, want, len(args))
		return f
	}
	for _, t := range args[:npos] {
		if t.hasEq {
			p.errorf("%q where %s expects %s", t.text, p.kw, want)
			return f
		}
	}
	f.Name, f.Vendor = args[0].text, args[1].text
	p.kw += " " + f.Name
	if !validName(f.Name) {
		p.errorf("feature name %q: want a name without blanks, quotes, '=' or '\\'", f.Name)
	}
	if !validName(f.Vendor) {
		p.errorf("vendor %q: want a daemon name", f.Vendor)
	}
	rest := args[2:npos]
	if f.Kind == KindUpgrade {
		f.FromVersion = p.version(rest[0].text)
		rest = rest[1:]
	}
	f.Version = p.version(rest[0].text)
	if f.Kind == KindUpgrade && f.Version != "" && f.FromVersion != "" && CompareVersions(f.FromVersion, f.Version) >= 0 {
		p.errorf("from-version %s is not below to-version %s", f.FromVersion, f.Version)
	}
	f.ExpiryText = rest[1].text
	if d, err := ParseDate(f.ExpiryText); err != nil {
		p.errorf("expiry %q: want d-mmm-yyyy, \"permanent\" or year 0", f.ExpiryText)
	} else {
		f.Expiry = d
	}
	f.Count, f.Uncounted = p.count(rest[2].text)

	attrToks := args[npos:]
	if len(attrToks) > 0 && bareKey(attrToks[0]) {
		f.Sign = attrToks[0].text
		attrToks = attrToks[1:]
	}
	f.Attrs = p.attrs(attrToks, false)
	p.decodeFeature(&f)
	if f.Uncounted && f.HostID == "" {
		p.errorf("uncounted license needs HOSTID=")
	}
	return f
}

func (p *parser) version(s string) string {
	if !ValidVersion(s) {
		p.errorf("version %q: want a decimal number such as 1.0 or 2017.12 (-77: must be floating point number, with no letters)", s)
		return ""
	}
	return s
}

// count reads num_lic: a number, or "uncounted"/0 for an uncounted license.
func (p *parser) count(s string) (n int, uncounted bool) {
	if strings.EqualFold(s, "uncounted") {
		return 0, true
	}
	n, ok := number(s)
	if !ok {
		p.errorf("count %q: want a number or \"uncounted\"", s)
		return 0, false
	}
	return n, n == 0
}

// decodeFeature fills f's decoded fields from f.Attrs.
func (p *parser) decodeFeature(f *Feature) {
	var sig signature
	for _, a := range f.Attrs {
		v := a.Value
		switch strings.ToUpper(a.Key) {
		case "HOSTID":
			f.HostID = v
		case "VENDOR_STRING":
			f.VendorString = v
		case "ISSUER":
			f.Issuer = v
		case "ISSUED":
			f.Issued = p.date(a)
		case "NOTICE":
			f.Notice = v
		case "SN":
			f.SN = v
		case "START":
			f.Start = p.date(a)
		case "DUP_GROUP":
			if !validDupGroup(v) {
				p.errorf("DUP_GROUP=%q: want NONE, SITE or letters of UHDV", v)
			}
			f.DupGroup = v
		case "OVERDRAFT":
			f.Overdraft = p.attrNumber(a)
		case "SUPERSEDE":
			f.Supersede = strings.Fields(v)
			if len(f.Supersede) == 0 {
				f.Supersede = []string{f.Name}
			}
		case "USER_BASED":
			f.UserBased = true
			p.attrNumber(a)
		case "HOST_BASED":
			f.HostBased = true
			p.attrNumber(a)
		case "BORROW":
			f.Borrow = defaultBorrowHours
			if !a.Flag {
				f.Borrow = p.attrNumber(a)
			}
		case "FLOAT_OK":
			f.FloatOK = true
		case "TS_OK":
			f.TSOK = true
		}
		sig.see(a)
	}
	f.Sign = p.sign(f.Sign, sig, " or a license key after the count")
	if len(f.Supersede) > 0 && f.Issued.IsZero() {
		p.warnf("SUPERSEDE without ISSUED= supersedes nothing")
	}
}

// signature collects the SIGN= and AUTH= attributes of a line.
type signature struct {
	sign, auth       string
	gotSign, gotAuth bool
}

func (s *signature) see(a Attr) {
	switch strings.ToUpper(a.Key) {
	case "SIGN":
		s.sign, s.gotSign = a.Value, true
	case "AUTH":
		s.auth, s.gotAuth = a.Value, true
	}
}

// sign returns a line's signature: SIGN=, else AUTH=, else the bare key,
// which may not come with either.
func (p *parser) sign(key string, s signature, orKey string) string {
	if key != "" && (s.gotSign || s.gotAuth) {
		p.errorf("both a license key %s and SIGN=/AUTH=", key)
	}
	switch {
	case s.gotSign:
		key = s.sign
	case s.gotAuth:
		key = s.auth
	}
	if key == "" {
		p.errorf("no signature: want SIGN=\"...\"%s (-114: SIGN= keyword required)", orKey)
	}
	return key
}

func (p *parser) date(a Attr) Date {
	d, err := ParseDate(a.Value)
	if err != nil {
		p.errorf("%s=%q: want d-mmm-yyyy", a.Key, a.Value)
	}
	return d
}

// attrNumber reads an attribute's optional count (USER_BASED=n, OVERDRAFT=n).
func (p *parser) attrNumber(a Attr) int {
	if a.Flag {
		return 0
	}
	n, ok := number(a.Value)
	if !ok {
		p.errorf("%s=%q: want a number", a.Key, a.Value)
	}
	return n
}

func validDupGroup(s string) bool {
	if strings.EqualFold(s, "NONE") || strings.EqualFold(s, "SITE") {
		return true
	}
	if s == "" {
		return false
	}
	for _, c := range strings.ToUpper(s) {
		if !strings.ContainsRune("UHDV", c) {
			return false
		}
	}
	return true
}

// pkg parses PACKAGE name vendor [version] [key] COMPONENTS="f[:v[:n]] ..."
// [OPTIONS=SUITE] attrs...
func (p *parser) pkg(args []token) Package {
	pk := Package{Pos: p.pos}
	if len(args) < 2 || args[0].hasEq || args[1].hasEq {
		p.errorf("want PACKAGE name vendor [version] COMPONENTS=\"...\" SIGN=...")
		return pk
	}
	pk.Name, pk.Vendor = args[0].text, args[1].text
	p.kw += " " + pk.Name
	if !validName(pk.Name) {
		p.errorf("package name %q: want a name without blanks, quotes, '=' or '\\'", pk.Name)
	}
	if !validName(pk.Vendor) {
		p.errorf("vendor %q: want a daemon name", pk.Vendor)
	}
	rest := args[2:]
	if len(rest) > 0 && !rest[0].hasEq && (ValidVersion(rest[0].text) || !bareKey(rest[0])) {
		pk.Version = p.version(rest[0].text)
		rest = rest[1:]
	}
	if len(rest) > 0 && bareKey(rest[0]) {
		pk.Sign = rest[0].text
		rest = rest[1:]
	}
	pk.Attrs = p.attrs(rest, true)
	var (
		comps    string
		gotComps bool
		sig      signature
	)
	for _, a := range pk.Attrs {
		sig.see(a)
		switch strings.ToUpper(a.Key) {
		case "COMPONENTS":
			comps, gotComps = a.Value, true
		case "OPTIONS":
			if !strings.EqualFold(a.Value, "SUITE") {
				p.errorf("OPTIONS=%q: want OPTIONS=SUITE", a.Value)
			}
			pk.Suite = true
		case "ISSUED", "START":
			p.date(a)
		}
	}
	pk.Sign = p.sign(pk.Sign, sig, "")
	if !gotComps {
		p.errorf("no COMPONENTS=\"feature[:version[:count]] ...\" (-82: Invalid PACKAGE line)")
		return pk
	}
	pk.Components = p.components(comps, pk.Suite)
	return pk
}

func (p *parser) components(s string, suite bool) []Component {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		p.errorf("empty COMPONENTS (-82: Invalid PACKAGE line)")
	}
	var out []Component
	for _, fld := range fields {
		parts := strings.Split(fld, ":")
		c := Component{Name: parts[0]}
		bad := len(parts) > 3 || !validName(c.Name)
		if len(parts) > 1 {
			// An empty version (f::2) takes the enabling line's, like a missing one.
			c.Version = parts[1]
			bad = bad || c.Version == "" && len(parts) == 2 || c.Version != "" && !ValidVersion(c.Version)
		}
		if len(parts) > 2 {
			n, ok := number(parts[2])
			bad = bad || !ok || n == 0
			c.Count = n
			if suite && !bad {
				p.errorf("component %q: a count is not allowed with OPTIONS=SUITE", fld)
			}
		}
		if bad {
			p.errorf("component %q: want feature[:version[:count]]", fld)
		}
		out = append(out, c)
	}
	return out
}

// checkFile runs the checks that need the whole file: the SERVER lines form
// one server or a triad, features name a VENDOR of the file, and only the
// first FEATURE line of a name counts.
func (p *parser) checkFile() {
	f := p.f
	p.kw = "SERVER"
	switch n := len(f.Servers); {
	case n == 2:
		p.pos = f.Servers[1].Pos
		p.errorf("two SERVER lines: a triad needs three")
	case n > 3:
		p.pos = f.Servers[3].Pos
		p.errorf("%d SERVER lines: want one, or three for a triad", n)
	case n == 3:
		for i, s := range f.Servers {
			p.pos = s.Pos
			if s.Port == 0 {
				p.errorf("%s has no port: every SERVER line of a triad needs one (FlexLM crashes without it)", s.Host)
			}
			for _, prev := range f.Servers[:i] {
				if strings.EqualFold(prev.Host, s.Host) {
					p.errorf("host %s repeats line %d: the three hosts of a triad must differ", s.Host, prev.Pos.Line)
				}
			}
		}
	}
	for i, s := range f.Servers {
		if i > 0 && (s.PrimaryIsMaster || s.HeartbeatInterval != 0) {
			p.pos = s.Pos
			p.warnf("PRIMARY_IS_MASTER and HEARTBEAT_INTERVAL belong on the first SERVER line")
		}
	}

	vendors := map[string]Pos{}
	for _, v := range f.Vendors {
		if prev, dup := vendors[v.Name]; dup {
			p.pos, p.kw = v.Pos, "VENDOR"
			p.warnf("%s repeats line %d", v.Name, prev.Line)
			continue
		}
		vendors[v.Name] = v.Pos
	}
	checkVendor := func(pos Pos, kw, name, vendor string) {
		if _, ok := vendors[vendor]; len(vendors) > 0 && !ok {
			p.pos, p.kw = pos, kw+" "+name
			p.warnf("vendor %s has no VENDOR line in this file", vendor)
		}
	}
	first := map[[2]string]Pos{}
	for _, ft := range f.Features {
		checkVendor(ft.Pos, ft.Kind.String(), ft.Name, ft.Vendor)
		if ft.Kind != KindFeature {
			continue
		}
		k := [2]string{ft.Vendor, ft.Name}
		if prev, dup := first[k]; dup {
			p.pos, p.kw = ft.Pos, "FEATURE "+ft.Name
			p.warnf("ignored: the FEATURE line at line %d comes first (use INCREMENT to add licenses)", prev.Line)
			continue
		}
		first[k] = ft.Pos
	}
	for _, pk := range f.Packages {
		checkVendor(pk.Pos, "PACKAGE", pk.Name, pk.Vendor)
	}
}

// Triad reports whether f describes a three-server (triad) configuration.
func (f *File) Triad() bool { return len(f.Servers) == 3 }

// ServerAddrs is the file's SERVER lines as search-path servers, in line
// order: what a client reading this file dials. Port 0 stays 0 (no port).
func (f *File) ServerAddrs() []HostPort {
	hps := make([]HostPort, len(f.Servers))
	for i, s := range f.Servers {
		hps[i] = HostPort{Host: s.Host, Port: s.Port}
	}
	return hps
}

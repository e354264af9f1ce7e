package options

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ParseFile reads and parses the options file at path. The error is only
// a failure to open or read it; problems in the file are in Problems.
func ParseFile(path string) (*Options, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse parses an options file named name (the name used in positions).
// It returns every good line and every problem; the error is only a read
// failure from r, with the lines read before it.
func Parse(name string, r io.Reader) (*Options, error) {
	return parse(name, r, defaultLimits)
}

func parse(name string, r io.Reader, lim limits) (*Options, error) {
	p := &parser{o: &Options{Name: name}, lim: lim}
	lx := newLexer(r, lim)
	var rerr error
	for {
		ll, err := lx.next()
		if err == io.EOF {
			break
		}
		if err == errTooLarge {
			p.pos = Pos{File: name}
			p.add(Error, fmt.Sprintf("file larger than %d bytes: the rest is ignored", lim.file))
			break
		}
		if err != nil {
			rerr = err
			break
		}
		if len(p.o.Lines) >= lim.lines {
			p.pos = Pos{File: name, Line: ll.line}
			p.add(Error, fmt.Sprintf("more than %d lines: this one and the rest are ignored", lim.lines))
			break
		}
		p.line(ll)
	}
	p.finish()
	return p.o, rerr
}

type parser struct {
	o       *Options
	lim     limits
	pos     Pos
	kw      string // keyword of the line being parsed, for messages
	dropped int    // problems past the limit
}

func (p *parser) add(sev Severity, msg string) {
	if len(p.o.Problems) >= p.lim.problems {
		p.dropped++
		return
	}
	p.o.Problems = append(p.o.Problems, Problem{Pos: p.pos, Severity: sev, Msg: msg})
}

func (p *parser) errorf(format string, args ...any) {
	p.add(Error, p.kw+": "+fmt.Sprintf(format, args...))
}

func (p *parser) warnf(format string, args ...any) {
	p.add(Warning, p.kw+": "+fmt.Sprintf(format, args...))
}

var keywordByName = func() map[string]Keyword {
	m := make(map[string]Keyword, numKeywords)
	for k := KeywordInclude; k < numKeywords; k++ {
		m[keywordNames[k]] = k
	}
	return m
}()

// usage is the syntax of each keyword, for messages.
var usage = [numKeywords]string{
	KeywordInclude:              "feature[:KEY=value] type name",
	KeywordExclude:              "feature[:KEY=value] type name",
	KeywordIncludeBorrow:        "feature[:KEY=value] type name",
	KeywordExcludeBorrow:        "feature[:KEY=value] type name",
	KeywordIncludeAll:           "type name",
	KeywordExcludeAll:           "type name",
	KeywordReserve:              "count feature[:KEY=value] type name",
	KeywordMax:                  "count feature[:KEY=value] type name",
	KeywordGroup:                "name member...",
	KeywordHostGroup:            "name host...",
	KeywordGroupCaseInsensitive: "ON|OFF",
	KeywordTimeout:              "feature[:KEY=value] seconds",
	KeywordTimeoutAll:           "seconds",
	KeywordLinger:               "feature[:KEY=value] seconds",
	KeywordNoLog:                "IN|OUT|DENIED|QUEUED",
	KeywordReportLog:            "[+]path",
	KeywordDebugLog:             "[+]path",
	KeywordMaxOverdraft:         "feature[:KEY=value] count",
	KeywordBorrowLowwater:       "feature[:KEY=value] count",
	KeywordMaxBorrowHours:       "feature[:KEY=value] hours",
}

// nargs is the number of fields after each keyword; -1: at least 2 (GROUP).
var nargs = [numKeywords]int{
	KeywordInclude:              3,
	KeywordExclude:              3,
	KeywordIncludeBorrow:        3,
	KeywordExcludeBorrow:        3,
	KeywordIncludeAll:           2,
	KeywordExcludeAll:           2,
	KeywordReserve:              4,
	KeywordMax:                  4,
	KeywordGroup:                -1,
	KeywordHostGroup:            -1,
	KeywordGroupCaseInsensitive: 1,
	KeywordTimeout:              2,
	KeywordTimeoutAll:           1,
	KeywordLinger:               2,
	KeywordNoLog:                1,
	KeywordReportLog:            1,
	KeywordDebugLog:             1,
	KeywordMaxOverdraft:         2,
	KeywordBorrowLowwater:       2,
	KeywordMaxBorrowHours:       2,
}

func (p *parser) line(ll logical) {
	p.pos = Pos{File: p.o.Name, Line: ll.line}
	p.kw = ""
	if ll.long {
		p.add(Error, fmt.Sprintf("line longer than %d bytes", p.lim.line))
		return
	}
	toks, err := tokenize(ll.text)
	if err != nil {
		p.add(Error, err.Error())
		return
	}
	if len(toks) == 0 {
		return
	}
	kw, known := keywordByName[asciiUpper(toks[0])]
	args := toks[1:]
	if !known {
		p.add(Warning, fmt.Sprintf("unknown keyword %q: kept, but it has no effect", toks[0]))
		p.o.Lines = append(p.o.Lines, Line{Pos: p.pos, Word: toks[0], Args: args})
		return
	}
	p.kw = kw.String()
	if n := nargs[kw]; n >= 0 && len(args) != n || n < 0 && len(args) < 2 {
		what := "missing argument"
		if n >= 0 && len(args) > n {
			what = fmt.Sprintf("unexpected field %q", args[n])
		}
		p.errorf("%s: want %s %s", what, p.kw, usage[kw])
		return
	}
	l := Line{Pos: p.pos, Keyword: kw}
	ok := true
	switch kw {
	case KeywordInclude, KeywordExclude, KeywordIncludeBorrow, KeywordExcludeBorrow:
		ok = p.spec(args[0], &l.Feature) && p.entity(args[1], args[2], &l.Entity)
	case KeywordIncludeAll, KeywordExcludeAll:
		ok = p.entity(args[0], args[1], &l.Entity)
	case KeywordReserve, KeywordMax:
		min := 0
		if kw == KeywordReserve {
			min = 1
		}
		ok = p.number(args[0], "count", min, &l.Value) && p.spec(args[1], &l.Feature) &&
			p.entity(args[2], args[3], &l.Entity)
	case KeywordGroup, KeywordHostGroup:
		l.Group, l.Members = args[0], args[1:]
		for _, m := range args {
			if m == "" {
				p.errorf("empty name")
				ok = false
				break
			}
		}
	case KeywordGroupCaseInsensitive:
		switch asciiUpper(args[0]) {
		case "ON":
			l.On = true
		case "OFF":
		default:
			p.errorf("%q: want ON or OFF", args[0])
			ok = false
		}
	case KeywordTimeout, KeywordLinger, KeywordMaxOverdraft, KeywordBorrowLowwater, KeywordMaxBorrowHours:
		noun := "count"
		switch kw {
		case KeywordTimeout, KeywordLinger:
			noun = "seconds"
		case KeywordMaxBorrowHours:
			noun = "hours"
		}
		ok = p.spec(args[0], &l.Feature) && p.number(args[1], noun, 0, &l.Value)
		if ok && kw == KeywordTimeout && l.Value < MinTimeout {
			p.warnf("%d seconds is below the minimum of %d: %d applies", l.Value, MinTimeout, MinTimeout)
		}
	case KeywordTimeoutAll:
		ok = p.number(args[0], "seconds", 0, &l.Value)
		if ok && l.Value < MinTimeout {
			p.warnf("%d seconds is below the minimum of %d: %d applies", l.Value, MinTimeout, MinTimeout)
		}
	case KeywordNoLog:
		ok = false
		for k := LogIn; k < numLogKinds; k++ {
			if asciiUpper(args[0]) == logKindNames[k] {
				l.Log, ok = k, true
			}
		}
		if !ok {
			p.errorf("%q: want IN, OUT, DENIED or QUEUED", args[0])
		}
	case KeywordReportLog, KeywordDebugLog:
		l.Path, l.Append = strings.CutPrefix(args[0], "+")
		if l.Path == "" {
			p.errorf("missing path")
			ok = false
		}
	}
	if ok {
		p.o.Lines = append(p.o.Lines, l)
	}
}

// spec parses "name" or "name:KEY=value".
func (p *parser) spec(s string, fs *FeatureSpec) bool {
	name, rest, hasKey := strings.Cut(s, ":")
	if !validName(name) {
		p.errorf("%q: want a feature name", name)
		return false
	}
	fs.Name = name
	if !hasKey {
		return true
	}
	key, value, hasEq := strings.Cut(rest, "=")
	if !hasEq || !validKey(key) {
		p.errorf("%q: want feature:KEY=value", s)
		return false
	}
	if value == "" {
		p.errorf("%q: empty value", s)
		return false
	}
	fs.Key, fs.Value = asciiUpper(key), value
	return true
}

// entity parses a type spec.
func (p *parser) entity(typ, name string, e *Entity) bool {
	t := Type(0)
	for i := TypeUser; i < numTypes; i++ {
		if asciiUpper(typ) == typeNames[i] {
			t = i
		}
	}
	switch {
	case t == 0:
		p.errorf("unknown type %q: want USER, HOST, DISPLAY, INTERNET, PROJECT, GROUP or HOST_GROUP", typ)
		return false
	case name == "":
		p.errorf("%s: empty name", t)
		return false
	case t == TypeInternet:
		if _, ok := parsePattern(name); !ok {
			p.errorf("INTERNET %q: want an IPv4 address with * for any octet, such as 192.168.*.*", name)
			return false
		}
	}
	e.Type, e.Name = t, name
	return true
}

// number parses a decimal count of at least min that fits FlexLM's 32-bit
// integers.
func (p *parser) number(s, what string, min int, n *int) bool {
	v, err := strconv.ParseUint(s, 10, 31)
	if err != nil || int(v) < min {
		if min > 0 {
			p.errorf("%s %q: want a whole number from %d", what, s, min)
		} else {
			p.errorf("%s %q: want a whole number", what, s)
		}
		return false
	}
	*n = int(v)
	return true
}

// validName reports whether s can be a feature name: one unquoted field.
func validName(s string) bool {
	return s != "" && !needsQuotes(s) && !strings.ContainsAny(s, `"\`)
}

// validKey reports whether s can be the KEY of a feature spec.
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

// asciiUpper upper-cases ASCII letters only: keywords are ASCII, and names
// in 8-bit Latin must not change.
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'a' && c <= 'z' {
					b[j] = c - 'a' + 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// finish reports undefined groups and builds the query index.
func (p *parser) finish() {
	o := p.o
	o.groups = map[string]memberSet{}
	o.hostGroups = map[string]memberSet{}
	o.byFeature = map[string][]int{}
	for i := range o.Lines {
		l := &o.Lines[i]
		switch l.Keyword {
		case KeywordGroupCaseInsensitive:
			o.caseInsensitive = l.On
		case KeywordNoLog:
			o.noLog[l.Log] = true
		case KeywordReportLog:
			o.reportLog = l
		case KeywordDebugLog:
			o.debugLog = l
		case KeywordIncludeAll, KeywordExcludeAll, KeywordTimeoutAll:
			o.global = append(o.global, i)
		}
		if l.Feature.Name != "" {
			o.byFeature[l.Feature.Name] = append(o.byFeature[l.Feature.Name], i)
		}
	}
	for i := range o.Lines {
		l := &o.Lines[i]
		switch l.Keyword {
		case KeywordGroup:
			o.groups[l.Group] = o.groups[l.Group].add(l.Members, o.caseInsensitive)
		case KeywordHostGroup:
			o.hostGroups[l.Group] = o.hostGroups[l.Group].add(l.Members, true)
		}
	}
	for _, l := range o.Lines {
		defined := true
		switch l.Type {
		case TypeGroup:
			_, defined = o.groups[l.Name]
		case TypeHostGroup:
			_, defined = o.hostGroups[l.Name]
		}
		if !defined {
			p.pos, p.kw = l.Pos, l.Keyword.String()
			p.warnf("%s %q is not defined: this line matches nobody", l.Type, l.Name)
		}
	}
	if p.dropped > 0 {
		o.Problems = append(o.Problems, Problem{Pos: Pos{File: o.Name}, Severity: Error,
			Msg: fmt.Sprintf("%d more problems not listed", p.dropped)})
	}
	// Line order; problems of the whole file (line 0) last.
	order := func(l int) int {
		if l == 0 {
			return math.MaxInt
		}
		return l
	}
	sort.SliceStable(o.Problems, func(i, j int) bool {
		return order(o.Problems[i].Pos.Line) < order(o.Problems[j].Pos.Line)
	})
}

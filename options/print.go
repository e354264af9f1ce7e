package options

import (
	"strconv"
	"strings"
)

// String returns the canonical text of the spec: "name" or
// "name:KEY=value", the value quoted when it holds blanks.
func (s FeatureSpec) String() string {
	if s.Key == "" {
		return s.Name
	}
	return s.Name + ":" + s.Key + "=" + quote(s.Value)
}

// String returns the canonical text of the line: upper-case keywords and
// types, single blanks, quotes only where needed. Parsing it gives l back
// (but for Pos).
func (l Line) String() string {
	f := []string{l.Keyword.String()}
	num := strconv.Itoa(l.Value)
	switch l.Keyword {
	case KeywordUnknown:
		f[0] = quote(l.Word)
		for _, a := range l.Args {
			f = append(f, quote(a))
		}
	case KeywordInclude, KeywordExclude, KeywordIncludeBorrow, KeywordExcludeBorrow:
		f = append(f, l.Feature.String(), l.Entity.String())
	case KeywordIncludeAll, KeywordExcludeAll:
		f = append(f, l.Entity.String())
	case KeywordReserve, KeywordMax:
		f = append(f, num, l.Feature.String(), l.Entity.String())
	case KeywordGroup, KeywordHostGroup:
		f = append(f, quote(l.Group))
		for _, m := range l.Members {
			f = append(f, quote(m))
		}
	case KeywordGroupCaseInsensitive:
		if l.On {
			f = append(f, "ON")
		} else {
			f = append(f, "OFF")
		}
	case KeywordTimeout, KeywordLinger, KeywordMaxOverdraft, KeywordBorrowLowwater, KeywordMaxBorrowHours:
		f = append(f, l.Feature.String(), num)
	case KeywordTimeoutAll:
		f = append(f, num)
	case KeywordNoLog:
		f = append(f, l.Log.String())
	case KeywordReportLog, KeywordDebugLog:
		p := l.Path
		if l.Append {
			p = "+" + p
		}
		f = append(f, quote(p))
	}
	return strings.Join(f, " ")
}

// String returns the canonical text of the options file: one line per
// Line, in order, without comments. Parsing it gives the same Lines.
func (o *Options) String() string {
	if o == nil {
		return ""
	}
	var b strings.Builder
	for _, l := range o.Lines {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

package options

import (
	"fmt"
	"strings"
)

// Limits on hostile input. A longer physical or logical line is an Error for
// that line; past MaxFileBytes or MaxLines the rest of the file is ignored
// with one Error; past MaxProblems further problems are counted in one last
// Problem instead of being listed. A logical line holds a GROUP of some
// 100,000 users; real options files are a few kilobytes. Memory stays
// within a small multiple of MaxFileBytes.
const (
	MaxLineBytes = 1 << 20
	MaxFileBytes = 4 << 20
	MaxLines     = 50000
	MaxProblems  = 1000
)

// MinTimeout is the smallest TIMEOUT or TIMEOUTALL, in seconds, that Timeout
// returns: Flexera's usual publisher minimum (flexlm.md §6 [INF]).
const MinTimeout = 900

// Pos locates a logical line: the file and the number of its first physical
// line. Line 0 means the whole file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Severity tells a line that was left out (Error) from one that was kept
// with a remark (Warning).
type Severity int

const (
	Warning Severity = iota + 1
	Error
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Problem is one remark about one line of an options file.
type Problem struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// Error returns "file:line: msg".
func (p Problem) Error() string { return p.Pos.String() + ": " + p.Msg }

// ProblemList is several problems, one a line in Error's text.
type ProblemList []Problem

func (l ProblemList) Error() string {
	s := make([]string, len(l))
	for i, p := range l {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// Keyword is the first word of an options line.
type Keyword int

const (
	KeywordUnknown Keyword = iota // kept with a Warning; see Line.Word
	KeywordInclude
	KeywordExclude
	KeywordIncludeAll
	KeywordExcludeAll
	KeywordIncludeBorrow
	KeywordExcludeBorrow
	KeywordReserve
	KeywordMax
	KeywordGroup
	KeywordHostGroup
	KeywordGroupCaseInsensitive
	KeywordTimeout
	KeywordTimeoutAll
	KeywordLinger
	KeywordNoLog
	KeywordReportLog
	KeywordDebugLog
	KeywordMaxOverdraft
	KeywordBorrowLowwater
	KeywordMaxBorrowHours
	numKeywords
)

var keywordNames = [numKeywords]string{
	KeywordUnknown:              "UNKNOWN",
	KeywordInclude:              "INCLUDE",
	KeywordExclude:              "EXCLUDE",
	KeywordIncludeAll:           "INCLUDEALL",
	KeywordExcludeAll:           "EXCLUDEALL",
	KeywordIncludeBorrow:        "INCLUDE_BORROW",
	KeywordExcludeBorrow:        "EXCLUDE_BORROW",
	KeywordReserve:              "RESERVE",
	KeywordMax:                  "MAX",
	KeywordGroup:                "GROUP",
	KeywordHostGroup:            "HOST_GROUP",
	KeywordGroupCaseInsensitive: "GROUPCASEINSENSITIVE",
	KeywordTimeout:              "TIMEOUT",
	KeywordTimeoutAll:           "TIMEOUTALL",
	KeywordLinger:               "LINGER",
	KeywordNoLog:                "NOLOG",
	KeywordReportLog:            "REPORTLOG",
	KeywordDebugLog:             "DEBUGLOG",
	KeywordMaxOverdraft:         "MAX_OVERDRAFT",
	KeywordBorrowLowwater:       "BORROW_LOWWATER",
	KeywordMaxBorrowHours:       "MAX_BORROW_HOURS",
}

func (k Keyword) String() string {
	if k >= 0 && k < numKeywords {
		return keywordNames[k]
	}
	return fmt.Sprintf("Keyword(%d)", int(k))
}

// Type is the kind of entity a type spec names.
type Type int

const (
	TypeUser Type = iota + 1
	TypeHost
	TypeDisplay
	TypeInternet
	TypeProject
	TypeGroup
	TypeHostGroup
	numTypes
)

var typeNames = [numTypes]string{
	TypeUser:      "USER",
	TypeHost:      "HOST",
	TypeDisplay:   "DISPLAY",
	TypeInternet:  "INTERNET",
	TypeProject:   "PROJECT",
	TypeGroup:     "GROUP",
	TypeHostGroup: "HOST_GROUP",
}

func (t Type) String() string {
	if t > 0 && t < numTypes {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// LogKind is a message type NOLOG can drop from the debug log.
type LogKind int

const (
	LogIn LogKind = iota + 1
	LogOut
	LogDenied
	LogQueued
	numLogKinds
)

var logKindNames = [numLogKinds]string{LogIn: "IN", LogOut: "OUT", LogDenied: "DENIED", LogQueued: "QUEUED"}

func (k LogKind) String() string {
	if k > 0 && k < numLogKinds {
		return logKindNames[k]
	}
	return fmt.Sprintf("LogKind(%d)", int(k))
}

// Entity is a type spec: "USER jan", "INTERNET 10.1.*.*", "GROUP eng".
type Entity struct {
	Type Type
	Name string
}

func (e Entity) String() string { return e.Type.String() + " " + quote(e.Name) }

// FeatureSpec is "name" or "name:KEY=value". Key is upper case, empty for
// a plain name.
type FeatureSpec struct {
	Name  string
	Key   string
	Value string
}

// Line is one good line of an options file. Which fields are set depends
// on Keyword:
//
//	INCLUDE, EXCLUDE, INCLUDE_BORROW, EXCLUDE_BORROW  Feature, Entity
//	INCLUDEALL, EXCLUDEALL                            Entity
//	RESERVE, MAX                                      Value (licenses), Feature, Entity
//	GROUP, HOST_GROUP                                 Group, Members
//	GROUPCASEINSENSITIVE                              On
//	TIMEOUT, LINGER                                   Feature, Value (seconds)
//	TIMEOUTALL                                        Value (seconds, as written)
//	MAX_OVERDRAFT, BORROW_LOWWATER                    Feature, Value (licenses)
//	MAX_BORROW_HOURS                                  Feature, Value (hours)
//	NOLOG                                             Log
//	REPORTLOG, DEBUGLOG                               Path, Append
//	unknown                                           Word, Args
type Line struct {
	Pos     Pos
	Keyword Keyword
	Feature FeatureSpec
	Entity
	Value   int
	Group   string
	Members []string
	On      bool
	Log     LogKind
	Path    string
	Append  bool     // the path was written with a leading '+'
	Word    string   // KeywordUnknown: the keyword as written
	Args    []string // KeywordUnknown: the other fields, unquoted
}

// Options is a parsed options file. Lines holds every good line in file
// order; Problems every Error and Warning in line order. The rest is an
// index built by Parse for the queries.
type Options struct {
	Name     string
	Lines    []Line
	Problems []Problem

	caseInsensitive bool
	groups          map[string]memberSet
	hostGroups      map[string]memberSet
	byFeature       map[string][]int // Lines with a feature spec, by feature name
	global          []int            // INCLUDEALL, EXCLUDEALL, TIMEOUTALL
	noLog           [numLogKinds]bool
	reportLog       *Line
	debugLog        *Line
}

// Errors returns the Error-severity problems as one error, or nil.
func (o *Options) Errors() error {
	if o == nil {
		return nil
	}
	var l ProblemList
	for _, p := range o.Problems {
		if p.Severity == Error {
			l = append(l, p)
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l
}

// Requester is the client asking for a license: its user, host and X
// display, its IP address as text (IPv4, or IPv4-mapped IPv6), and its
// LM_PROJECT.
type Requester struct {
	User, Host, Display, IP, Project string
}

func (r Requester) String() string {
	s := fmt.Sprintf("user %q on host %q", r.User, r.Host)
	if r.IP != "" {
		s += fmt.Sprintf(" (%s)", r.IP)
	}
	return s
}

// FeatureRef is the license line or pool a checkout would draw from: its
// feature name and its attributes by upper-case keyword (VERSION, SN,
// VENDOR_STRING, HOSTID, ASSET_INFO...), for "feature:KEY=value" specs.
// FeatureRefOf builds one from a licfile.Feature.
type FeatureRef struct {
	Name  string
	Attrs map[string]string
}

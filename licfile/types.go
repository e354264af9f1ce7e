package licfile

import (
	"fmt"
	"time"
)

// DefaultPort is the lmgrd port used when a SERVER line has none; @host
// search-path entries try DefaultPort through DefaultPort+9.
const DefaultPort = 27000

// Pos locates a logical line: the file and the number of its first physical line.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is a problem found in a license file or a search path. It names the
// file and line so that an administrator can go straight to it.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Attr is one optional attribute of a line: KEYWORD=value or a bare flag
// (Value empty, Flag true). Key keeps the spelling of the file.
type Attr struct {
	Key   string
	Value string
	Flag  bool
}

// File is one parsed license file. Lines keep file order.
type File struct {
	Name      string
	Servers   []Server
	Vendors   []Vendor
	UseServer bool
	Features  []Feature // FEATURE, INCREMENT and UPGRADE lines
	Packages  []Package
	Warnings  []*Error // unknown keywords, excluded lines; never fatal
}

// Server is a SERVER line.
type Server struct {
	Pos               Pos
	Host              string
	HostID            string
	Port              int // 0 when the line has none
	PrimaryIsMaster   bool
	HeartbeatInterval int // seconds; 0 when absent
	Attrs             []Attr
}

// Vendor is a VENDOR (or DAEMON) line.
type Vendor struct {
	Pos     Pos
	Name    string
	Path    string
	Options string
	Port    int // 0 when absent: the vendor daemon takes no direct port
}

// Kind tells FEATURE, INCREMENT and UPGRADE lines apart.
type Kind int

const (
	KindFeature Kind = iota + 1
	KindIncrement
	KindUpgrade
)

func (k Kind) String() string {
	switch k {
	case KindFeature:
		return "FEATURE"
	case KindIncrement:
		return "INCREMENT"
	case KindUpgrade:
		return "UPGRADE"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Date is a calendar date from a license file. The zero Date means "none":
// for an expiry, permanent.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// IsZero reports whether d is the "none"/permanent date.
func (d Date) IsZero() bool { return d == Date{} }

// Feature is a FEATURE, INCREMENT or UPGRADE line.
type Feature struct {
	Pos         Pos
	Kind        Kind
	Name        string
	Vendor      string
	Version     string // canonical decimal text; for UPGRADE the to-version
	FromVersion string // UPGRADE only
	Expiry      Date   // zero: permanent
	ExpiryText  string // as written, for lmstat -i
	Count       int    // 0 when Uncounted
	Uncounted   bool
	Sign        string // SIGN= value or the bare hex key
	Attrs       []Attr // every optional attribute, in file order

	// Decoded attributes.
	HostID       string
	VendorString string
	Issuer       string
	Issued       Date
	Notice       string
	SN           string
	Start        Date
	DupGroup     string
	Overdraft    int
	Supersede    []string // names listed; [Name] for a bare SUPERSEDE
	UserBased    bool
	HostBased    bool
	Borrow       int // hours; 0 when absent
	FloatOK      bool
	TSOK         bool
}

// Package is a PACKAGE line.
type Package struct {
	Pos        Pos
	Name       string
	Vendor     string
	Version    string
	Components []Component
	Suite      bool // OPTIONS=SUITE
	Sign       string
	Attrs      []Attr
}

// Component is one entry of a PACKAGE line's COMPONENTS list.
type Component struct {
	Name    string
	Version string // empty: from the enabling line
	Count   int    // 0: from the enabling line
}

// Pool is one license pool: lines of one feature that FlexLM counts together
// (flexlm.md §1.5 lists the key). Its Count is the sum of its lines.
type Pool struct {
	Key          string // stable identity across rereads
	Name         string
	Vendor       string
	Version      string
	Expiry       Date
	ExpiryText   string
	Start        Date
	Count        int
	Uncounted    bool
	HostID       string
	VendorString string
	DupGroup     string
	Overdraft    int
	UserBased    bool
	HostBased    bool
	// Borrow is the line's BORROW in hours (a bare BORROW is 168); 0 when
	// the pool cannot be borrowed.
	Borrow int
	Lines  []Pos
}

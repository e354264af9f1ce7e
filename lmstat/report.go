package lmstat

import "time"

// Report is everything one `lmstat` run shows. Versions may be given with or
// without their leading "v" ("v0.1" or "0.1"); the printer adds it once.
type Report struct {
	// Program names the banner: "lmutil" (the default when empty) or
	// "lmstat" when the binary was invoked under that name.
	Program string
	// Now is printed as "Flexible License Manager status on Mon 2/10/2025 11:26"
	// in its own location; its year ends the copyright range in the banner.
	Now time.Time
	// Servers are the SERVER lines in license-file order (one, or three for a triad).
	Servers []Server
	// LicenseFile is the path in "    License file(s) on HOST: PATH:".
	LicenseFile string
	// Incomplete is set when a status could not be had (a vendor daemon
	// that is up did not answer, no master): lmutil then exits 1.
	Incomplete bool
	// Skipped are the license and options file lines the vendor daemons
	// left out ("file:line: why (line ignored)"), printed after the vendor
	// daemon status; nothing is printed when there are none.
	Skipped []string
	// FileHost is the HOST of that line: the server we talked to. Empty means
	// the first server.
	FileHost string
	// VendorHost is the HOST in "Vendor daemon status (on HOST):", the master.
	// Empty means the server marked Master, else FileHost.
	VendorHost string
	Vendors    []Vendor
	// Features are printed in this order.
	Features []Feature
	// Cluster is the triad status paragraph; nil for a single server.
	Cluster *Cluster
	// ConnectErr, when not empty, replaces the whole report after the date
	// line with "Error getting status: <ConnectErr>", as FlexLM does when no
	// server answers, e.g.
	// `Cannot connect to license server system. (-15,570:111 "Connection refused")`.
	ConnectErr string
}

// Server is one SERVER line and what its lmgrd answered.
type Server struct {
	Host    string
	Port    int
	Up      bool
	Master  bool
	Version string // "v0.1"
	// Err replaces the status of a server that is not Up, e.g.
	// `Cannot connect to license server system. (-15,570:111 "Connection refused")`.
	// Empty prints DefaultServerDownErr.
	Err string
}

// DefaultServerDownErr is printed for a server that is down and has no Err.
const DefaultServerDownErr = "Cannot connect to license server system. (-15,570)"

// Vendor is one vendor daemon as seen by the master.
type Vendor struct {
	Name    string
	Up      bool
	Version string // "v0.1"
	// Err replaces the status of a daemon that is not Up. Empty prints
	// DefaultVendorDownErr.
	Err string
	// Unsigned: the daemon serves licenses without checking their
	// signatures (lmgrd -unsigned NAME). An Up daemon then gets a line
	// "    NAME: unsigned licenses accepted (lmgrd -unsigned NAME)" under its
	// status line: our addition to FlexLM's layout (see the package doc).
	Unsigned bool
}

// DefaultVendorDownErr is printed for a vendor daemon that is down and has no Err.
const DefaultVendorDownErr = "The desired vendor daemon is down. (-97,121)"

// Feature is one "Users of" block: a feature name summed over its pools.
type Feature struct {
	Name   string
	Issued int
	InUse  int
	// Uncounted prints "(Uncounted, node-locked)" in place of the totals.
	Uncounted bool
	// Err, when not empty, prints "(Error: <Issued> licenses, <Err>)" in place
	// of the totals, e.g. Err "unsupported by licensed server".
	Err string
	// Vendor is the daemon serving the feature, used by the -S filter.
	// Empty means the vendor of the first pool.
	Vendor string
	// Pools are printed in order; pools without holders are skipped.
	Pools []Pool
	// Queued are the checkouts waiting in the server's queue, head first,
	// printed after the user lines of the first pool printed as
	// "    user host display V (vV) (server/port handle) queued for N
	// license(s)" (flexlm.md §4.1 item 12). Holder's Start and Linger are
	// not used.
	Queued []Holder
	// Named are the named users of a USER_BASED or HOST_BASED feature,
	// printed only with Options.Named (lmstat -named).
	Named []NamedUser
}

// NamedUser is a named user (host) of a USER_BASED (HOST_BASED) feature:
// "    named user ann, last used Mon 2/10 11:26".
type NamedUser struct {
	User     string
	LastUsed time.Time
}

// Pool is one group of identical license lines (same name, version, hostid,
// vendor string...) inside a feature.
type Pool struct {
	Name    string // usually the feature name
	Version string // license version, "1.0"
	Vendor  string
	// Expiry is the expiry date as written in the license ("1-jan-2030");
	// empty prints "permanent(no expiration date)".
	Expiry       string
	VendorString string
	// NodeLocked is the hostid the pool is locked to; empty means floating.
	NodeLocked string
	// Uncounted prints the uncounted node-locked type line.
	Uncounted bool
	Holders   []Holder
	// Reservations are the RESERVE lines of the options file not taken up
	// by users yet, printed before the user lines (a pool with
	// reservations is printed even when nobody uses it).
	Reservations []Reservation
}

// Reservation is printed as "        N RESERVATIONs for USER name (server/port)"
// (FlexLM's own plural).
type Reservation struct {
	Count int
	Type  string // USER, HOST, DISPLAY, INTERNET, PROJECT, GROUP, HOST_GROUP
	Name  string
	// Server and Port as in Holder.
	Server string
	Port   int
}

// Holder is one checkout, printed as
// "    user host display (vVER) (server/port handle), start Ddd M/D H:MM".
type Holder struct {
	User    string
	Host    string
	Display string // omitted when empty, as some FlexLM clients send none
	Version string // client version from the checkout request, "1.0"
	// Server and Port name the lmgrd that granted the checkout. Empty Server
	// means Report.VendorHost (the master); Port 0 means that server's port.
	Server string
	Port   int
	Handle uint64
	Start  time.Time // printed in its own location
	// Count is the number of licenses held; ", N licenses" is printed when N > 1.
	Count int
	// PID is printed as ", PID: n" only with Options.ShowPID (FlexLM v11.19+).
	PID int
	// Linger, when not zero, is the LINGER time of a checked-in license
	// still held: "  (linger: <LingerLeft> / <Linger>)" in seconds.
	Linger, LingerLeft time.Duration
	// BorrowedUntil, when not zero, is the end of a borrowed license (held
	// without a connection, lmborrow). FlexLM implements a borrow as a
	// linger and prints it so, which lmstat parsers read: "  (linger:
	// <BorrowedUntil-Report.Now> / <BorrowedUntil-Start>)" in seconds.
	BorrowedUntil time.Time
}

// Cluster states, as printed in "Cluster status: <state>".
const (
	ClusterOperational          = "operational"
	ClusterPartiallyOperational = "partially operational"
	ClusterNotOperational       = "not operational"
)

// Cluster is the triad's own view of itself: our addition to the FlexLM
// layout (see the package documentation for why parsers ignore it).
type Cluster struct {
	State string // one of the Cluster* constants
	Links []Link
	// Enrolled is the digest of the enrolled license files as the
	// answering server holds them ("" for a server that has none to show),
	// and Members what each member serves against it.
	Enrolled string
	Members  []Member
}

// Link is the heartbeat connection between two servers. From and To are
// Server.Host values and print as "port@host"; a name that is not among
// Report.Servers prints as given.
type Link struct {
	From, To string
	Up       bool
	Why      string // why a down link is down, when known: "unreachable", "clock skew", ...
}

// Member is one triad member's license files and health as the answering
// server sees them.
type Member struct {
	Host   string // a Server.Host
	Digest string // the enrolled-set digest it serves; "" when unknown
	// Notes are printed after the sync state, comma-separated: "catching
	// up", "clock 1h0m5s ahead", "state directory full (...)".
	Notes []string
}

// Options are the lmstat switches that shape the report.
//
// Precedence: FeatureSet (-f) prints only the banner and the feature blocks.
// Otherwise All (-a) or Vendor (-S) prints the full report, Vendor keeping
// only that daemon's status line and features. Otherwise Servers (-s) prints
// the server paragraph (and cluster status) only, and with no switch the
// server and vendor daemon paragraphs are printed, like FlexLM's plain lmstat.
type Options struct {
	All        bool   // -a: everything
	Feature    string // -f FEATURE: only this feature, with users ("" with FeatureSet: all)
	FeatureSet bool   // -f was given
	Vendor     string // -S VENDOR: only this vendor daemon and its features
	Servers    bool   // -s: server status only
	NoUserInfo bool   // --no-user-info: feature blocks without user lines
	ShowPID    bool   // append ", PID: n" to user lines with a PID, as FlexLM v11.19+
	// Named (-named) lists the named users of USER_BASED and HOST_BASED
	// features under their header, with a blank line after them (not
	// FlexLM's: its lmstat has no such list; DSLS shows "Last used at").
	Named bool
	// ActiveOnly (-A) prints only the features with licenses in use.
	ActiveOnly bool
	// Seconds (-asec) prints checkout times with seconds (H:MM:SS).
	Seconds bool
}

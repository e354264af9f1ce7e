package vendorctl

import (
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
)

// Args are the vendor daemon's command line: lmgrd builds it with Argv,
// vendord reads it with Flags and FromCLI.
type Args struct {
	Vendor      string // the VENDOR line's name
	LicensePath string // -c of lmgrd: file, directory or search path
	// HandoffFD is the inherited descriptor of the handoff channel; -1 none.
	HandoffFD  int
	DirectPort int    // the VENDOR line's port=; 0 none
	ServerHost string // the SERVER host this daemon serves under (lmstat)
	ServerPort int    // lmgrd's port (lmstat)
	// HeartbeatTimeout frees the licenses of a client silent this long.
	HeartbeatTimeout time.Duration
	MaxConnections   int // 0: from the descriptor limit
	// MaxConnectionsPerHost is one source address's share of the client
	// connections: 0 means half of MaxConnections (at least 1), a
	// negative value no share (one host may take them all).
	MaxConnectionsPerHost int
	LocalOnly             bool // lmgrd -local
	NoRemove              bool // lmgrd -x lmremove
	NoDown                bool // lmgrd -x lmdown
	// AutoRecycle is lmgrd -auto-recycle: every day at 00:00 UTC the
	// master recycles the seat of every named user of a USER_BASED or
	// HOST_BASED feature unused for 30 days and holding no license.
	AutoRecycle bool
	// RemoteAdmin is lmgrd -remote-admin: what admin requests from another
	// host get (none, restricted or full; "" is restricted). Requests from
	// this host are always full (hostid.AdminPolicy).
	RemoteAdmin string
	// VendorKeys is lmgrd -vendor-keys: a public key file or a directory of
	// *.pub files, used with the keys built into the daemon (licsign.Builtin).
	// Every FEATURE, INCREMENT, UPGRADE and PACKAGE line of this vendor must
	// carry a signature one of them verifies; a line that does not, or any
	// line when no key is of this vendor, is not served (-8).
	VendorKeys string
	// Unsigned is lmgrd -unsigned VENDOR naming this daemon's vendor: its
	// license signatures are not checked and every line is served.
	Unsigned bool
	// Triad: this daemon serves a triad member; it grants only while lmgrd
	// says it is the master, and every change goes through lmgrd's log.
	Triad bool
}

// Flag names, shared by Argv and Flags.
const (
	flagVendor           = "vendor"
	flagLicense          = "c"
	flagHandoffFD        = "handoff-fd"
	flagPort             = "port"
	flagServerHost       = "server-host"
	flagServerPort       = "server-port"
	flagHeartbeatTimeout = "heartbeat-timeout"
	flagMaxConnections   = "max-connections"
	flagMaxPerHost       = "max-connections-per-host"
	flagLocal            = "local"
	flagNoRemove         = "no-remove"
	flagNoDown           = "no-down"
	flagTriad            = "triad"
	flagRemoteAdmin      = "remote-admin"
	flagVendorKeys       = "vendor-keys"
	flagUnsigned         = "unsigned"
	flagAutoRecycle      = "auto-recycle"
)

// DefaultHeartbeatTimeout: four missed 30 s client heartbeats.
const DefaultHeartbeatTimeout = 2 * time.Minute

// Argv is the command line for a, without the program name.
func (a Args) Argv() []string {
	argv := []string{
		"-" + flagVendor, a.Vendor,
		"-" + flagLicense, a.LicensePath,
		"-" + flagHandoffFD, strconv.Itoa(a.HandoffFD),
		"-" + flagServerHost, a.ServerHost,
		"-" + flagServerPort, strconv.Itoa(a.ServerPort),
		"-" + flagHeartbeatTimeout, a.HeartbeatTimeout.String(),
	}
	if a.DirectPort != 0 {
		argv = append(argv, "-"+flagPort, strconv.Itoa(a.DirectPort))
	}
	if a.MaxConnections != 0 {
		argv = append(argv, "-"+flagMaxConnections, strconv.Itoa(a.MaxConnections))
	}
	if a.MaxConnectionsPerHost != 0 {
		argv = append(argv, "-"+flagMaxPerHost, strconv.Itoa(a.MaxConnectionsPerHost))
	}
	if a.RemoteAdmin != "" {
		argv = append(argv, "-"+flagRemoteAdmin, a.RemoteAdmin)
	}
	if a.VendorKeys != "" {
		argv = append(argv, "-"+flagVendorKeys, a.VendorKeys)
	}
	for _, b := range []struct {
		on   bool
		name string
	}{{a.LocalOnly, flagLocal}, {a.NoRemove, flagNoRemove}, {a.NoDown, flagNoDown}, {a.Triad, flagTriad}, {a.Unsigned, flagUnsigned}, {a.AutoRecycle, flagAutoRecycle}} {
		if b.on {
			argv = append(argv, "-"+b.name)
		}
	}
	return argv
}

// Flags are the vendor daemon's flags.
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagVendor, Required: true, Usage: "vendor `NAME` (the VENDOR line's name)"},
		&cli.StringFlag{Name: flagLicense, Required: true, Usage: "license file, directory or search `PATH`"},
		&cli.IntFlag{Name: flagHandoffFD, Value: -1, Usage: "inherited `FD` of lmgrd's handoff channel"},
		&cli.IntFlag{Name: flagPort, Usage: "direct TCP `PORT` (the VENDOR line's port=)"},
		&cli.StringFlag{Name: flagServerHost, Usage: "the SERVER line host this daemon serves under (for lmstat)"},
		&cli.IntFlag{Name: flagServerPort, Usage: "lmgrd's port (for lmstat)"},
		&cli.DurationFlag{Name: flagHeartbeatTimeout, Value: DefaultHeartbeatTimeout, Usage: "free licenses of clients silent this long"},
		&cli.IntFlag{Name: flagMaxConnections, Usage: "cap on client connections (0: from the descriptor limit)"},
		&cli.IntFlag{Name: flagMaxPerHost, Usage: "client connections one source address may hold (0: half the cap; negative: no share)"},
		&cli.BoolFlag{Name: flagLocal, Usage: "refuse lmremove and shutdown from other hosts"},
		&cli.StringFlag{Name: flagRemoteAdmin, Usage: "what admin requests from other hosts get: `none` (feature totals only), restricted (read all; the default) or full"},
		&cli.StringFlag{Name: flagVendorKeys, Usage: "verify license signatures with the public key `FILE` or the *.pub files of a directory; with the keys built in; lines unsigned, tampered with or of a vendor without a key are not served"},
		&cli.BoolFlag{Name: flagUnsigned, Usage: "serve this vendor's lines without checking signatures (lmgrd -unsigned VENDOR)"},
		&cli.BoolFlag{Name: flagNoRemove, Usage: "disable lmremove (lmgrd -x lmremove)"},
		&cli.BoolFlag{Name: flagNoDown, Usage: "disable shutdown requests (lmgrd -x lmdown)"},
		&cli.BoolFlag{Name: flagAutoRecycle, Usage: "recycle named users unused for 30 days every day at 00:00 UTC (lmgrd -auto-recycle)"},
		&cli.BoolFlag{Name: flagTriad, Usage: "a triad member's daemon: serve only as lmgrd's master, commit every change through lmgrd"},
	}
}

// FromCLI reads Args from a context parsed with Flags.
func FromCLI(c *cli.Context) Args {
	return Args{
		Vendor:                c.String(flagVendor),
		LicensePath:           c.String(flagLicense),
		HandoffFD:             c.Int(flagHandoffFD),
		DirectPort:            c.Int(flagPort),
		ServerHost:            c.String(flagServerHost),
		ServerPort:            c.Int(flagServerPort),
		HeartbeatTimeout:      c.Duration(flagHeartbeatTimeout),
		MaxConnections:        c.Int(flagMaxConnections),
		MaxConnectionsPerHost: c.Int(flagMaxPerHost),
		LocalOnly:             c.Bool(flagLocal),
		NoRemove:              c.Bool(flagNoRemove),
		NoDown:                c.Bool(flagNoDown),
		RemoteAdmin:           c.String(flagRemoteAdmin),
		VendorKeys:            c.String(flagVendorKeys),
		Unsigned:              c.Bool(flagUnsigned),
		Triad:                 c.Bool(flagTriad),
		AutoRecycle:           c.Bool(flagAutoRecycle),
	}
}

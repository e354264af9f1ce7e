package lmstat

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Golden files: testdata/<case>.golden holds the exact bytes Write (or
// WriteIncrements) prints for the case of the same name in goldenCases.
// `go test ./lmstat -update` rewrites them; review the diff before keeping it.
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// now is the report date: single-digit month, day and hour and a minute
// below 10 exercise the (non-)padding rules.
var now = time.Date(2025, 2, 3, 9, 5, 0, 0, time.UTC)

// at is a checkout time on the day before now.
func at(h, m int) time.Time { return time.Date(2025, 2, 2, h, m, 0, 0, time.UTC) }

// goldenCase is one report rendering; compat_test.go reads the same table.
type goldenCase struct {
	name   string
	report Report
	opts   Options
	incs   []IncrementLine // when not nil the case is WriteIncrements
	// incReport, when not nil, is a WriteIncrementsReport case.
	incReport *IncrementsReport
}

func singleServer() []Server {
	return []Server{{Host: "lic1.example.com", Port: 27100, Up: true, Master: true, Version: "v0.1"}}
}

// busyFeatures covers every header and pool form: several pools of one
// feature, one and several licenses per user, vendor_string, node-locked,
// uncounted, error, idle, singular counts and a second vendor daemon.
func busyFeatures() []Feature {
	return []Feature{
		{Name: "solver", Issued: 20, InUse: 8, Pools: []Pool{
			{Name: "solver", Version: "1.0", Vendor: "lmtriad", Expiry: "1-jan-2030", Holders: []Holder{
				{User: "alice", Host: "ws01", Display: "/dev/pts/0", Version: "1.0", Handle: 101, Start: at(8, 3), Count: 1, PID: 4242},
				{User: "bob", Host: "ws02.example.com", Display: "ws02:0.0", Version: "1.2", Handle: 102, Start: at(14, 30), Count: 5, PID: 99},
			}},
			{Name: "solver", Version: "2.0", Vendor: "lmtriad", VendorString: "site=lab:tier=gold", NodeLocked: "ID=1234", Holders: []Holder{
				{User: "carol", Host: "lab7", Display: "lab7", Version: "2.0", Handle: 7, Start: at(23, 59), Count: 2},
			}},
			{Name: "solver", Version: "3.0", Vendor: "lmtriad", Expiry: "31-dec-2026"}, // idle pool: not printed
		}},
		{Name: "viewer", Issued: 1, InUse: 1, Pools: []Pool{
			{Name: "viewer", Version: "1.0", Vendor: "lmtriad", Holders: []Holder{
				{User: "dave", Host: "build-03", Version: "5.6", Handle: 55, Start: at(0, 0)},
			}},
		}},
		{Name: "serial", Uncounted: true, Pools: []Pool{
			{Name: "serial", Version: "6.3", Vendor: "lmtriad", Uncounted: true, Holders: []Holder{
				{User: "erin", Host: "lab7", Display: "/dev/tty", Version: "6.3", Handle: 1090, Start: at(11, 7)},
			}},
		}},
		{Name: "subsurface", Issued: 1, Err: "unsupported by licensed server"},
		{Name: "idle", Issued: 3},
		{Name: "one", Issued: 1, Pools: []Pool{{Name: "one", Version: "1.0", Vendor: "lmtriad"}}},
		{Name: "cad", Issued: 2, InUse: 2, Vendor: "caddaemon", Pools: []Pool{
			{Name: "cad", Version: "2024.1", Vendor: "caddaemon", Expiry: "30-jun-2028", Holders: []Holder{
				{User: "Jane Doe", Host: "pc-12", Display: "pc-12", Version: "2024.1", Handle: 9, Start: at(10, 10), Count: 2, PID: 31337},
			}},
		}},
	}
}

func busyReport() Report {
	return Report{
		Now:         now,
		Servers:     singleServer(),
		LicenseFile: "/etc/lmtriad/license.lic",
		Vendors: []Vendor{
			{Name: "lmtriad", Up: true, Version: "v0.1"},
			{Name: "caddaemon", Up: true, Version: "0.1"},
		},
		Features: busyFeatures(),
	}
}

func triadServers(downThird bool) []Server {
	s := []Server{
		{Host: "h1", Port: 27100, Up: true, Version: "v0.1"},
		{Host: "h2", Port: 27100, Up: true, Master: true, Version: "v0.1"},
		{Host: "h3", Port: 27100, Up: true, Version: "v0.1"},
	}
	if downThird {
		s[2] = Server{Host: "h3", Port: 27100, Err: `Cannot connect to license server system. (-15,570:111 "Connection refused")`}
	}
	return s
}

// triadReport has h2 (the secondary) as master; holders name h2 through
// the VendorHost default.
func triadReport(downThird bool) Report {
	c := &Cluster{State: ClusterOperational, Links: []Link{
		{From: "h1", To: "h2", Up: true}, {From: "h1", To: "h3", Up: true}, {From: "h2", To: "h3", Up: true},
	}}
	c.Enrolled = "3f9c0a12d4e5a6b7c8d9e0f1"
	c.Members = []Member{{Host: "h1", Digest: c.Enrolled}, {Host: "h2", Digest: c.Enrolled}, {Host: "h3", Digest: c.Enrolled}}
	if downThird {
		c = &Cluster{State: ClusterPartiallyOperational, Links: []Link{
			{From: "h1", To: "h2", Up: true}, {From: "h1", To: "h3", Why: "clock skew"}, {From: "h2", To: "h3"},
		}, Enrolled: c.Enrolled, Members: []Member{{Host: "h1", Digest: c.Enrolled},
			{Host: "h2", Digest: c.Enrolled, Notes: []string{"state directory full (no space left on device)"}},
			{Host: "h3", Digest: "9a8b7c6d5e4f00112233aabb", Notes: []string{"catching up", "clock 1h0m5s ahead"}}}}
	}
	return Report{
		Now:         now,
		Servers:     triadServers(downThird),
		LicenseFile: "/etc/lmtriad/triad.lic",
		FileHost:    "h1",
		Vendors:     []Vendor{{Name: "lmtriad", Up: true, Version: "v0.1"}},
		Cluster:     c,
		Features: []Feature{
			{Name: "solver", Issued: 144, InUse: 3, Pools: []Pool{
				{Name: "solver", Version: "31.0", Vendor: "lmtriad", Expiry: "1-jan-2030", Holders: []Holder{
					{User: "user1", Host: "server034", Display: "server0340", Version: "31.000000", Handle: 5226, Start: at(16, 40)},
					{User: "user2", Host: "server028", Display: "server0280", Version: "30.000000", Handle: 10077, Start: at(9, 29), Count: 2},
				}},
			}},
			{Name: "mesher", Issued: 144},
		},
	}
}

func goldenCases() []goldenCase {
	idle := Report{
		Now:         now,
		Servers:     singleServer(),
		LicenseFile: "/etc/lmtriad/license.lic",
		Vendors:     []Vendor{{Name: "lmtriad", Up: true, Version: "v0.1"}},
		Features:    []Feature{{Name: "solver", Issued: 10}, {Name: "viewer", Issued: 1}},
	}
	vendorDown := busyReport()
	vendorDown.Vendors = []Vendor{
		{Name: "lmtriad", Up: true, Version: "v0.1"},
		{Name: "caddaemon"},
		{Name: "averylongvendor", Up: true, Version: "v0.1"},
	}
	vendorDown.Features = nil
	unsigned := busyReport()
	unsigned.Vendors[1].Unsigned = true // lmgrd -unsigned caddaemon
	unreachable := Report{
		Program:    "lmstat",
		Now:        now,
		Servers:    triadServers(false),
		ConnectErr: `Cannot connect to license server system. (-15,570:111 "Connection refused")`,
	}
	policy := Report{Program: "lmutil", Now: now, Servers: singleServer(), LicenseFile: "/etc/lmtriad/site.lic",
		Vendors: []Vendor{{Name: "lmtriad", Up: true, Version: "v0.1"}},
		Features: []Feature{
			{Name: "solver", Issued: 4, InUse: 1, Pools: []Pool{{Name: "solver", Version: "1.0", Vendor: "lmtriad",
				Reservations: []Reservation{{Count: 1, Type: "USER", Name: "bob"}, {Count: 2, Type: "GROUP", Name: "eng"}},
				Holders: []Holder{{User: "alice", Host: "ws01", Display: "/dev/pts/0", Version: "1.0", Handle: 9, Start: at(8, 3), Count: 1,
					Linger: 600 * time.Second, LingerLeft: 431 * time.Second}}}}},
			{Name: "mesher", Issued: 2, Pools: []Pool{{Name: "mesher", Version: "1.0", Vendor: "lmtriad",
				Reservations: []Reservation{{Count: 1, Type: "HOST", Name: "lab7"}}}}},
			{Name: "oldtool", Issued: 3, Err: "expired on 1-jan-2025 (-10)"},
		},
		Skipped: []string{`/etc/lmtriad/site.lic:7: FEATURE broken: bad expiry date "notadate" (line ignored)`}}
	queued := Report{Program: "lmutil", Now: now, Servers: singleServer(), LicenseFile: "/etc/lmtriad/site.lic",
		Vendors: []Vendor{{Name: "lmtriad", Up: true, Version: "v0.1"}},
		Features: []Feature{
			{Name: "solver", Issued: 1, InUse: 1, Pools: []Pool{{Name: "solver", Version: "2017.06", Vendor: "lmtriad",
				Holders: []Holder{{User: "alice", Host: "ws01", Display: "/dev/pts/0", Version: "2017.06", Handle: 9, Start: at(8, 3)}}}},
				Queued: []Holder{
					{User: "bob", Host: "ws02", Display: "fj209fj0", Version: "2017.06", Handle: 10, Count: 1},
					{User: "carol", Host: "ws03", Display: ":0", Version: "2017.06", Handle: 12, Count: 2},
				}},
		}}
	borrowed := Report{Program: "lmutil", Now: now, Servers: singleServer(), LicenseFile: "/etc/lmtriad/site.lic",
		Vendors: []Vendor{{Name: "lmtriad", Up: true, Version: "v0.1"}},
		Features: []Feature{{Name: "solver", Issued: 4, InUse: 2, Pools: []Pool{{Name: "solver", Version: "1.0", Vendor: "lmtriad",
			Holders: []Holder{
				{User: "alice", Host: "ws01", Display: "/dev/pts/0", Version: "1.0", Handle: 9, Start: at(8, 3), Count: 1},
				{User: "bob", Host: "laptop", Display: "/dev/pts/1", Version: "1.0", Handle: 10, Start: at(9, 15), Count: 1,
					BorrowedUntil: at(9, 15).AddDate(0, 0, 7)},
			}}}}}}
	return []goldenCase{
		{name: "single_queued", report: queued, opts: Options{All: true}},
		{name: "single_idle", report: idle, opts: Options{All: true}},
		{name: "borrowed", report: borrowed, opts: Options{All: true}},
		{name: "policy_reservations_linger", report: policy, opts: Options{All: true}},
		{name: "single_active_seconds", report: busyReport(), opts: Options{All: true, ActiveOnly: true, Seconds: true}},
		{name: "single_holders", report: busyReport(), opts: Options{All: true}},
		{name: "single_holders_pid", report: busyReport(), opts: Options{All: true, ShowPID: true}},
		{name: "single_no_user_info", report: busyReport(), opts: Options{All: true, NoUserInfo: true}},
		{name: "single_plain", report: busyReport()},
		{name: "vendor_down", report: vendorDown},
		{name: "vendor_unsigned", report: unsigned, opts: Options{All: true}},
		{name: "triad_master_secondary", report: triadReport(false), opts: Options{All: true}},
		{name: "triad_one_down", report: triadReport(true), opts: Options{All: true}},
		{name: "triad_servers", report: triadReport(true), opts: Options{Servers: true}},
		{name: "unreachable", report: unreachable, opts: Options{All: true}},
		{name: "filter_f", report: busyReport(), opts: Options{FeatureSet: true, Feature: "solver"}},
		{name: "filter_f_all", report: triadReport(false), opts: Options{FeatureSet: true}},
		{name: "filter_S", report: busyReport(), opts: Options{Vendor: "caddaemon"}},
		{name: "increments_report", incReport: &IncrementsReport{Program: "lmutil", Now: now, Lines: []IncrementLine{
			{Feature: "solver", Version: "2018.12", Count: 2, Expires: "31-dec-2018", Vendor: "lmtriad"},
			{Feature: "serial", Version: "6.3", Count: 0, Vendor: "lmtriad"},
			{Feature: "FEATURE_NAME_2_38_05", Version: "1.1", Count: 1, Expires: "12-jun-2020", Vendor: "VENDOR"},
		}}},
		{name: "increments_report_expires_first", incReport: &IncrementsReport{Program: "lmutil", Now: now, ExpiresFirst: true, Lines: []IncrementLine{
			{Feature: "solver", Version: "2018.12", Count: 2, Expires: "31-dec-2018", Vendor: "lmtriad"},
		}}},
		{name: "increments", incs: []IncrementLine{
			{Feature: "solver", Version: "2018.12", Count: 2, Expires: "31-dec-2018", Vendor: "lmtriad"},
			{Feature: "solver", Version: "2018.12", Count: 600, Expires: "1-jan-2030", Vendor: "lmtriad"},
			{Feature: "serial", Version: "6.3", Count: 0, Vendor: "lmtriad"},
			{Feature: "a_feature_name_longer_than_its_column", Version: "1.0.0.0.0.0.0.1", Count: 1234567890123, Expires: "01-jan-0000", Vendor: "caddaemon"},
		}},
	}
}

func render(t testing.TB, c goldenCase) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if c.incReport != nil {
		err = WriteIncrementsReport(&buf, *c.incReport)
	} else if c.incs != nil {
		err = WriteIncrements(&buf, c.incs)
	} else {
		err = Write(&buf, c.report, c.opts)
	}
	require.NoError(t, err)
	return buf.Bytes()
}

func goldenPath(name string) string { return filepath.Join("testdata", name+".golden") }

func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c)
			path := goldenPath(c.name)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./lmstat -update to create it")
			require.Equal(t, string(want), string(got))
		})
	}
}

// errWriter fails every write after the first n bytes.
type errWriter struct{ n int }

var errFull = errors.New("disk full")

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return w.n, errFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteReturnsWriterError(t *testing.T) {
	r := benchReport(2000) // large enough to flush more than once
	require.ErrorIs(t, Write(&errWriter{n: 10}, r, Options{All: true}), errFull)
	require.ErrorIs(t, WriteIncrements(&errWriter{}, nil), errFull)
}

func TestNamedUsersOnlyWithNamed(t *testing.T) {
	last := time.Date(2026, 2, 10, 9, 5, 0, 0, time.UTC)
	r := Report{Program: "lmutil", Now: last, Features: []Feature{{Name: "cad", Issued: 2, InUse: 0,
		Named: []NamedUser{{User: "ann", LastUsed: last}, {User: "bob", LastUsed: last.Add(26 * time.Hour)}}}}}
	var plain, named bytes.Buffer
	require.NoError(t, Write(&plain, r, Options{FeatureSet: true}))
	require.NoError(t, Write(&named, r, Options{FeatureSet: true, Named: true}))
	header := "Users of cad:  (Total of 2 licenses issued;  Total of 0 licenses in use)\n\n"
	assert.True(t, strings.HasSuffix(plain.String(), header), "without -named: %q", plain.String())
	assert.True(t, strings.HasSuffix(named.String(), header+
		"    named user ann, last used Tue 2/10 9:05\n"+
		"    named user bob, last used Wed 2/11 11:05\n\n"), "with -named: %q", named.String())
}

package table

import (
	"reflect"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/stretchr/testify/require"
)

// t0 is the fake clock's origin in every test.
var t0 = time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// licenseA is a license file with one pool of each shape: dated, DUP_GROUP
// with OVERDRAFT, uncounted node-locked, START with a non-ASCII vendor string.
const licenseA = `SERVER host1 ANY 27000
VENDOR demo
INCREMENT solver demo 1.0 31-dec-2030 4 SIGN="0"
INCREMENT solver demo 2.0 permanent 2 DUP_GROUP=UH OVERDRAFT=1 SIGN="0"
INCREMENT solver demo 2.0 permanent 1 DUP_GROUP=UH OVERDRAFT=1 SIGN="0"
FEATURE viewer demo 1.0 permanent uncounted HOSTID=ANY SIGN="0"
FEATURE mesher demo 3.5 1-jan-2031 3 START=1-jan-2025 VENDOR_STRING="café" SIGN="0"
`

// licenseB is licenseA reread: solver 1.0 gone (its holders move to 2.0 or
// are released), mesher down to one license.
const licenseB = `SERVER host1 ANY 27000
VENDOR demo
INCREMENT solver demo 2.0 permanent 4 DUP_GROUP=UH OVERDRAFT=1 SIGN="0"
FEATURE viewer demo 1.0 permanent uncounted HOSTID=ANY SIGN="0"
FEATURE mesher demo 3.5 1-jan-2031 1 START=1-jan-2025 VENDOR_STRING="café" SIGN="0"
`

// pools parses a license text as file name and returns its pools as of t0.
func pools(t testing.TB, name, text string) []licfile.Pool {
	t.Helper()
	f, err := licfile.Parse(name, []byte(text))
	require.NoError(t, err)
	ps, excluded := licfile.Pools([]*licfile.File{f}, t0)
	require.Empty(t, excluded)
	require.NotEmpty(t, ps)
	return ps
}

var demoOpts = pool.Options{HeartbeatTimeout: 10 * time.Minute}

// master is a vendor daemon's pool as the proposer drives it: it starts
// empty, so that its first delta is the Reload that gives a table its pools,
// and it records every delta it produces.
type master struct {
	t      testing.TB
	vendor string
	s      *pool.State
	deltas []pool.Delta
}

func newMaster(t testing.TB, vendor string, ps []licfile.Pool, now time.Time) *master {
	m := &master{t: t, vendor: vendor, s: pool.New(nil, demoOpts)}
	m.add(m.s.Reload(ps, now))
	return m
}

func (m *master) add(ds []pool.Delta) []pool.Delta {
	m.deltas = append(m.deltas, ds...)
	return ds
}

func client(session uint64, user string) pool.Client {
	return pool.Client{Session: session, User: user, Host: "host-" + user, Display: ":0", PID: 1000 + int(session),
		HostIDs: []string{"10.0.0.1", "INTERNET=10.0.0.1"}}
}

func (m *master) checkout(c pool.Client, feature, version string, count int, now time.Time) pool.Holder {
	m.t.Helper()
	h, ds, err := m.s.Checkout(pool.CheckoutRequest{Client: c, Feature: feature, Version: version, Count: count}, now)
	require.NoError(m.t, err)
	m.add(ds)
	return h
}

// entries cuts the master's deltas into entries of at most n deltas.
func (m *master) entries(n int) []Entry {
	var es []Entry
	for i := 0; i < len(m.deltas); i += n {
		es = append(es, Entry{Proposer: 1, Vendor: m.vendor, Gen: 7, Deltas: m.deltas[i:min(i+n, len(m.deltas))]})
	}
	return es
}

// scenario drives a master through every kind of delta and every release
// reason and returns it.
func scenario(t testing.TB, vendor string) *master {
	m := newMaster(t, vendor, pools(t, "/etc/lic/a.lic", licenseA), t0)
	a := m.checkout(client(1, "alice"), "solver", "1.0", 2, at(time.Second))
	m.checkout(client(2, "bob"), "solver", "2.0", 1, at(2*time.Second))
	m.checkout(client(2, "bob"), "viewer", "", 1, at(3*time.Second))
	m.checkout(client(3, "carol"), "mesher", "3", 2, at(4*time.Second))
	m.checkout(client(4, "dave"), "solver", "", 1, at(5*time.Second))
	m.checkout(client(5, "erin"), "mesher", "", 1, at(6*time.Second))
	m.checkout(client(6, "frank"), "viewer", "", 1, at(6*time.Second))
	// alice reconnects on session 7: a Rebind.
	c := client(7, "alice")
	c.PID = 1001
	_, ds, err := m.s.Checkout(pool.CheckoutRequest{Client: c, Feature: "solver", Version: "1.0", Count: 2, Handle: a.Handle}, at(7*time.Second))
	require.NoError(t, err)
	m.add(ds)
	h := m.checkout(client(7, "alice"), "viewer", "", 1, at(8*time.Second))
	// One release for each reason: Checkin, SessionClosed, Removed, then
	// Timeout and Reread below.
	ds, err = m.s.Checkin(7, h.Handle, at(9*time.Second))
	require.NoError(t, err)
	m.add(ds)
	m.add(m.s.CloseSession(6, at(10*time.Second)))
	ds, err = m.s.Remove("solver", "dave", "host-dave", ":0", at(11*time.Second))
	require.NoError(t, err)
	m.add(ds)
	m.checkout(client(8, "gina"), "solver", "", 1, at(12*time.Second))
	for _, s := range []uint64{1, 2, 3, 5, 7} {
		m.s.Heartbeat(s, at(25*time.Minute))
	}
	m.add(m.s.Expire(at(30 * time.Minute))) // Timeout: gina's session 8
	// Reread: alice's solver 1.0 moves to 2.0, mesher shrinks to one
	// license (one of carol/erin released with Reread).
	m.add(m.s.Reload(pools(t, "/etc/lic/b.lic", licenseB), at(31*time.Minute)))
	m.checkout(client(9, "hal"), "solver", "2.0", 1, at(32*time.Minute))
	return m
}

// normalize returns a deep copy of v in which every time.Time is in UTC
// without a monotonic reading and every empty slice is nil, so that
// reflect.DeepEqual compares instants and ignores nil-versus-empty.
func normalize[T any](v T) T {
	src := reflect.ValueOf(&v).Elem()
	dst := reflect.New(src.Type()).Elem()
	normValue(dst, src)
	return dst.Interface().(T)
}

var timeType = reflect.TypeFor[time.Time]()

func normValue(dst, src reflect.Value) {
	if src.Type() == timeType {
		tm := src.Interface().(time.Time)
		if tm.IsZero() {
			tm = time.Time{}
		}
		dst.Set(reflect.ValueOf(tm.Round(0).UTC()))
		return
	}
	switch src.Kind() {
	case reflect.Struct:
		for i := range src.NumField() {
			normValue(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.Len() == 0 {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			normValue(dst.Index(i), src.Index(i))
		}
	case reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Type().Elem()))
			normValue(dst.Elem(), src.Elem())
		}
	default:
		dst.Set(src)
	}
}

// requireSame fails unless a and b are equal after normalize.
func requireSame[T any](t testing.TB, want, got T) {
	t.Helper()
	require.Equal(t, normalize(want), normalize(got))
}

// requireMasterState fails unless snap is the master's state. LastSeen is
// left out: the master's heartbeats are never replicated (pool's doc).
func requireMasterState(t testing.TB, m *master, snap pool.Snapshot) {
	t.Helper()
	want := m.s.Snapshot()
	for _, s := range []*pool.Snapshot{&want, &snap} {
		s.Holders = append([]pool.Holder(nil), s.Holders...)
		for i := range s.Holders {
			s.Holders[i].LastSeen = time.Time{}
		}
	}
	requireSame(t, want, snap)
}

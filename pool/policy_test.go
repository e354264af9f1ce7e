package pool

import (
	"reflect"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// with returns c with an IP and a project.
func with(c Client, ip, project string) Client {
	c.IP, c.Project = ip, project
	return c
}

// TestPolicyCheckout: each options-file check, alone and combined, on one
// checkout after some grants; the denial is that of the furthest check.
func TestPolicyCheckout(t *testing.T) {
	ann, bob, carl, dave := cl(1, "ann"), cl(2, "bob"), cl(3, "carl"), cl(4, "dave")
	f1 := []licfile.Pool{pl("k", "f", "1.0", 3)}
	two := []licfile.Pool{pl("k1", "f", "1.0", 1), pl("k2", "f", "2.0", 1)}
	tests := []struct {
		name  string
		pools []licfile.Pool
		opt   string
		held  []CheckoutRequest
		req   CheckoutRequest
		code  int
		pool  string
	}{
		// INCLUDE / EXCLUDE
		{name: "no options file", pools: f1, req: req(ann, "f", "", 1), pool: "k"},
		{name: "excluded", pools: f1, opt: "EXCLUDE f USER ann", req: req(ann, "f", "", 1), code: CodeFeatExclude},
		{name: "not included", pools: f1, opt: "INCLUDE f USER bob", req: req(ann, "f", "", 1), code: CodeFeatNotInclude},
		{name: "included", pools: f1, opt: "INCLUDE f USER ann", req: req(ann, "f", "", 1), pool: "k"},
		{name: "EXCLUDEALL", pools: f1, opt: "EXCLUDEALL HOST host-ann", req: req(ann, "f", "", 1), code: CodeFeatExclude},
		{name: "exclude before include", pools: f1, opt: "INCLUDE f USER ann\nEXCLUDE f USER ann", req: req(ann, "f", "", 1), code: CodeFeatExclude},
		{name: "group case-sensitive", pools: f1, opt: "GROUP eng ANN\nINCLUDE f GROUP eng", req: req(ann, "f", "", 1), code: CodeFeatNotInclude},
		{name: "GROUPCASEINSENSITIVE", pools: f1, opt: "GROUPCASEINSENSITIVE ON\nGROUP eng ANN\nINCLUDE f GROUP eng", req: req(ann, "f", "", 1), pool: "k"},
		{name: "INTERNET wildcard excludes", pools: f1, opt: "EXCLUDE f INTERNET 10.1.*.*", req: req(with(ann, "10.1.2.3", ""), "f", "", 1), code: CodeFeatExclude},
		{name: "INTERNET mapped IPv6 excludes", pools: f1, opt: "EXCLUDE f INTERNET 10.1.*.*", req: req(with(ann, "::ffff:10.1.2.3", ""), "f", "", 1), code: CodeFeatExclude},
		{name: "INTERNET other net", pools: f1, opt: "EXCLUDE f INTERNET 10.1.*.*", req: req(with(ann, "10.2.2.3", ""), "f", "", 1), pool: "k"},
		{name: "INTERNET without an address", pools: f1, opt: "INCLUDE f INTERNET 10.*.*.*", req: req(ann, "f", "", 1), code: CodeFeatNotInclude},
		{name: "PROJECT include", pools: f1, opt: "INCLUDE f PROJECT apollo", req: req(with(ann, "", "apollo"), "f", "", 1), pool: "k"},
		{name: "VERSION spec excludes one pool", pools: two, opt: "EXCLUDE f:VERSION=1 USER ann", req: req(ann, "f", "", 1), pool: "k2"},
		{name: "VERSION spec, the other pool is asked for", pools: two, opt: "EXCLUDE f:VERSION=2.0 USER ann", req: req(ann, "f", "2.0", 1), code: CodeFeatExclude},
		{name: "VERSION spec include leaves the other pool open", pools: two, opt: "INCLUDE f:VERSION=1.0 USER bob", req: req(ann, "f", "", 1), pool: "k2"},
		{name: "VENDOR_STRING spec", pools: []licfile.Pool{pl("k1", "f", "1.0", 1, func(p *licfile.Pool) { p.VendorString = "gold" }), pl("k2", "f", "1.0", 1)},
			opt: "EXCLUDE f:VENDOR_STRING=gold USER ann", req: req(ann, "f", "", 1), pool: "k2"},
		{name: "exclusion beats node lock (furthest)", pools: []licfile.Pool{pl("k1", "f", "1.0", 1, hostid("001122334455")), pl("k2", "f", "2.0", 1)},
			opt: "EXCLUDE f:VERSION=2.0 USER ann", req: req(ann, "f", "", 1), code: CodeFeatExclude},
		{name: "full beats excluded (furthest)", pools: two, opt: "EXCLUDE f:VERSION=2.0 USER ann", held: []CheckoutRequest{req(bob, "f", "1.0", 1)},
			req: req(ann, "f", "", 1), code: CodeMaxUsers},
		{name: "size checked after the lists", pools: f1, opt: "EXCLUDE f USER ann", req: req(ann, "f", "", 9), code: CodeFeatExclude},

		// MAX
		{name: "MAX reached", pools: f1, opt: "MAX 1 f USER ann", held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(ann, "f", "", 1), code: CodeMaxLimit},
		{name: "MAX counts the request", pools: f1, opt: "MAX 1 f USER ann", req: req(ann, "f", "", 2), code: CodeMaxLimit},
		{name: "MAX of another user", pools: f1, opt: "MAX 1 f USER ann", held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(bob, "f", "", 1), pool: "k"},
		{name: "MAX on a GROUP is the group's total", pools: f1, opt: "GROUP eng ann bob\nMAX 2 f GROUP eng",
			held: []CheckoutRequest{req(ann, "f", "", 1), req(bob, "f", "", 1)}, req: req(ann, "f", "", 1), code: CodeMaxLimit},
		{name: "MAX on a GROUP, outsider", pools: f1, opt: "GROUP eng ann bob\nMAX 2 f GROUP eng",
			held: []CheckoutRequest{req(ann, "f", "", 1), req(bob, "f", "", 1)}, req: req(carl, "f", "", 1), pool: "k"},
		{name: "MAX on a HOST_GROUP", pools: f1, opt: "HOST_GROUP hg HOST-ANN host-bob\nMAX 1 f HOST_GROUP hg",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(bob, "f", "", 1), code: CodeMaxLimit},
		{name: "MAX on INTERNET", pools: f1, opt: "MAX 1 f INTERNET 10.*.*.*",
			held: []CheckoutRequest{req(with(ann, "10.0.0.1", ""), "f", "", 1)}, req: req(with(bob, "10.0.0.2", ""), "f", "", 1), code: CodeMaxLimit},
		{name: "MAX on PROJECT", pools: f1, opt: "MAX 1 f PROJECT apollo",
			held: []CheckoutRequest{req(with(ann, "", "apollo"), "f", "", 1)}, req: req(with(bob, "", "apollo"), "f", "", 1), code: CodeMaxLimit},
		{name: "MAX on DISPLAY", pools: f1, opt: "MAX 1 f DISPLAY /dev/pts/1",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(bob, "f", "", 1), code: CodeMaxLimit},
		{name: "MAX counted over every pool the spec selects", pools: two, opt: "MAX 1 f USER ann",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(ann, "f", "", 1), code: CodeMaxLimit},
		{name: "MAX on one VERSION leaves the other pool", pools: two, opt: "MAX 1 f:VERSION=1.0 USER ann",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(ann, "f", "", 1), pool: "k2"},
		{name: "smallest MAX binds", pools: f1, opt: "MAX 3 f USER ann\nMAX 1 f USER ann",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(ann, "f", "", 1), code: CodeMaxLimit},
		{name: "MAX and a DUP_GROUP sharer", pools: []licfile.Pool{pl("k", "f", "1.0", 3, dupGrp("UHD"))}, opt: "MAX 1 f USER ann",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(cl(9, "ann"), "f", "", 1), pool: "k"},
		{name: "MAX and a DUP_GROUP growing", pools: []licfile.Pool{pl("k", "f", "1.0", 3, dupGrp("U"))}, opt: "MAX 1 f USER ann",
			held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(ann, "f", "", 2), code: CodeMaxLimit},
		{name: "MAX beats full? full is further", pools: []licfile.Pool{pl("k1", "f", "1.0", 1), pl("k2", "f", "1.0", 5)}, opt: "MAX 1 f:VERSION=1.0 USER ann",
			held: []CheckoutRequest{req(bob, "f", "", 1), req(ann, "f", "", 1)}, req: req(ann, "f", "", 1), code: CodeMaxLimit},

		// MAX_OVERDRAFT
		{name: "MAX_OVERDRAFT caps the overdraft", pools: []licfile.Pool{pl("k", "f", "1.0", 2, overdraft(3))}, opt: "MAX_OVERDRAFT f 1",
			held: []CheckoutRequest{req(bob, "f", "", 3)}, req: req(ann, "f", "", 1), code: CodeMaxUsers},
		{name: "MAX_OVERDRAFT and the size", pools: []licfile.Pool{pl("k", "f", "1.0", 2, overdraft(3))}, opt: "MAX_OVERDRAFT f 1",
			req: req(ann, "f", "", 4), code: CodeTooMany},
		{name: "MAX_OVERDRAFT above OVERDRAFT", pools: []licfile.Pool{pl("k", "f", "1.0", 2, overdraft(1))}, opt: "MAX_OVERDRAFT f 5",
			req: req(ann, "f", "", 4), code: CodeTooMany},

		// RESERVE
		{name: "reserved for another", pools: f1, opt: "RESERVE 2 f USER ann", held: []CheckoutRequest{req(bob, "f", "", 1)},
			req: req(bob, "f", "", 1), code: CodeReserved},
		{name: "reserved for me", pools: f1, opt: "RESERVE 2 f USER ann", held: []CheckoutRequest{req(bob, "f", "", 1)},
			req: req(ann, "f", "", 2), pool: "k"},
		{name: "my reservation used, the free one left", pools: f1, opt: "RESERVE 1 f USER ann", held: []CheckoutRequest{req(ann, "f", "", 1)},
			req: req(ann, "f", "", 1), pool: "k"},
		{name: "reservation for a GROUP", pools: f1, opt: "GROUP eng ann carl\nRESERVE 2 f GROUP eng", held: []CheckoutRequest{req(ann, "f", "", 1), req(bob, "f", "", 1)},
			req: req(carl, "f", "", 1), pool: "k"},
		{name: "reservation for a GROUP, outsider", pools: f1, opt: "GROUP eng ann carl\nRESERVE 2 f GROUP eng", held: []CheckoutRequest{req(ann, "f", "", 1)},
			req: req(bob, "f", "", 2), code: CodeReserved},
		{name: "reservation clamped to the capacity", pools: f1, opt: "RESERVE 9 f USER ann",
			req: req(bob, "f", "", 1), code: CodeReserved},
		{name: "clamped reservation, reserved user", pools: f1, opt: "RESERVE 9 f USER ann", held: []CheckoutRequest{req(ann, "f", "", 2)},
			req: req(ann, "f", "", 1), pool: "k"},
		{name: "later reservations get what is left", pools: f1, opt: "RESERVE 2 f USER ann\nRESERVE 2 f USER bob", held: []CheckoutRequest{req(ann, "f", "", 2)},
			req: req(bob, "f", "", 1), pool: "k"},
		{name: "attribution to the first matching reservation", pools: f1, opt: "GROUP eng ann bob\nRESERVE 1 f USER ann\nRESERVE 1 f GROUP eng",
			held: []CheckoutRequest{req(ann, "f", "", 1), req(ann, "f", "", 1)}, req: req(carl, "f", "", 1), code: CodeReserved},
		{name: "attribution leaves the group's reservation to bob", pools: f1, opt: "GROUP eng ann bob\nRESERVE 1 f USER ann\nRESERVE 1 f GROUP eng",
			held: []CheckoutRequest{req(ann, "f", "", 1), req(ann, "f", "", 1)}, req: req(bob, "f", "", 1), pool: "k"},
		{name: "full is further than reserved", pools: []licfile.Pool{pl("k1", "f", "1.0", 1), pl("k2", "f", "2.0", 1)}, opt: "RESERVE 1 f:VERSION=2.0 USER ann",
			held: []CheckoutRequest{req(carl, "f", "1.0", 1)}, req: req(bob, "f", "", 1), code: CodeMaxUsers},
		{name: "reserved pool skipped for a free one", pools: two, opt: "RESERVE 1 f:VERSION=1.0 USER ann",
			req: req(bob, "f", "", 1), pool: "k2"},
		{name: "reservation for a PROJECT", pools: f1, opt: "RESERVE 1 f PROJECT apollo", held: []CheckoutRequest{req(bob, "f", "", 2)},
			req: req(with(carl, "", "apollo"), "f", "", 1), pool: "k"},
		{name: "reservation for an INTERNET net", pools: f1, opt: "RESERVE 1 f INTERNET 192.168.*.*", held: []CheckoutRequest{req(bob, "f", "", 2)},
			req: req(with(carl, "10.0.0.1", ""), "f", "", 1), code: CodeReserved},
		{name: "reservation and a DUP_GROUP sharer", pools: []licfile.Pool{pl("k", "f", "1.0", 2, dupGrp("U"))}, opt: "RESERVE 1 f USER ann",
			held: []CheckoutRequest{req(bob, "f", "", 1)}, req: req(cl(8, "bob"), "f", "", 1), pool: "k"},

		// Combinations: RESERVE + MAX + INCLUDE on one feature.
		{name: "combo: not included", pools: f1, opt: combo, req: req(dave, "f", "", 1), code: CodeFeatNotInclude},
		{name: "combo: bob under MAX", pools: f1, opt: combo, held: []CheckoutRequest{req(ann, "f", "", 1)}, req: req(bob, "f", "", 1), pool: "k"},
		{name: "combo: bob over MAX", pools: f1, opt: combo, held: []CheckoutRequest{req(bob, "f", "", 1)}, req: req(bob, "f", "", 1), code: CodeMaxLimit},
		{name: "combo: ann meets carl's reservation", pools: f1, opt: combo, held: []CheckoutRequest{req(ann, "f", "", 1), req(bob, "f", "", 1)},
			req: req(ann, "f", "", 1), code: CodeReserved},
		{name: "combo: carl takes his reservation", pools: f1, opt: combo, held: []CheckoutRequest{req(ann, "f", "", 1), req(bob, "f", "", 1)},
			req: req(carl, "f", "", 1), pool: "k"},
		{name: "combo: full", pools: f1, opt: combo, held: []CheckoutRequest{req(ann, "f", "", 1), req(bob, "f", "", 1), req(carl, "f", "", 1)},
			req: req(carl, "f", "", 1), code: CodeMaxUsers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{}
			if tt.opt != "" {
				opts.Policy = parsePolicy(t, tt.opt)
			}
			s := New(tt.pools, opts)
			for _, r := range tt.held {
				mustCheckout(t, s, r, t0)
			}
			h, ds, err := s.Checkout(tt.req, t0)
			checkInvariants(t, s)
			if tt.code != 0 {
				wantDenial(t, err, tt.code)
				if len(ds) != 0 {
					t.Fatalf("denial with deltas %v", ds)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a grant from %q", err, tt.pool)
			}
			if h.PoolKey != tt.pool {
				t.Fatalf("granted from %q, want %q", h.PoolKey, tt.pool)
			}
		})
	}
}

// combo is RESERVE + MAX + INCLUDE on one feature of 3 licenses.
const combo = `INCLUDE f USER ann
INCLUDE f USER bob
INCLUDE f USER carl
RESERVE 1 f USER carl
MAX 1 f USER bob
`

func TestReservationStatus(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 4), pl("u", "g", "1.0", 0, uncounted)}, Options{
		Policy: parsePolicy(t, "GROUP eng ann bob\nRESERVE 1 f USER ann\nRESERVE 9 f GROUP eng\nRESERVE 2 g USER ann\n"),
	})
	mustCheckout(t, s, req(ann1, "f", "", 1), t0)
	mustCheckout(t, s, req(cl(2, "bob"), "f", "", 1), t0)
	// ann's licenses go to her own reservation, the first she matches: a
	// second one would eat into the group's.
	_, _, err := s.Checkout(req(ann1, "f", "", 2), t0)
	wantDenial(t, err, CodeReserved)
	got := s.Status("f")[0].Pools[0].Reservations
	want := []ReservationStatus{{Count: 1, Used: 1, Type: "USER", Name: "ann"}, {Count: 3, Used: 1, Type: "GROUP", Name: "eng"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reservations %+v, want %+v", got, want)
	}
	// An uncounted pool sets nothing aside.
	got = s.Status("g")[0].Pools[0].Reservations
	want = []ReservationStatus{{Count: 0, Used: 0, Type: "USER", Name: "ann"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("uncounted reservations %+v, want %+v", got, want)
	}
}

var ann1 = cl(1, "ann")

// TestSetPolicy: a new options file frees nobody and changes what later
// checkouts get; usage is recounted.
func TestSetPolicy(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 2, overdraft(2))}, Options{})
	for i := range 4 {
		mustCheckout(t, s, req(cl(uint64(i+1), "ann"), "f", "", 1), t0)
	}
	if ds := s.SetPolicy(parsePolicy(t, "EXCLUDE f USER ann\nMAX_OVERDRAFT f 0\nMAX 2 f USER bob\n"), t0); ds != nil {
		t.Fatalf("SetPolicy gave deltas %v", ds)
	}
	checkInvariants(t, s)
	if s.Holders() != 4 || inUse(t, s, "f") != 4 {
		t.Fatalf("SetPolicy freed holders: %d held, %d in use", s.Holders(), inUse(t, s, "f"))
	}
	_, _, err := s.Checkout(req(cl(9, "ann"), "f", "", 1), t0)
	wantDenial(t, err, CodeFeatExclude)
	_, _, err = s.Checkout(req(cl(9, "bob"), "f", "", 1), t0)
	wantDenial(t, err, CodeMaxUsers) // over the lowered capacity
	// Checkins bring the pool back under its new capacity of 2.
	for h := uint64(1); h <= 3; h++ {
		if _, err := s.Checkin(h, h, t0); err != nil {
			t.Fatal(err)
		}
	}
	mustCheckout(t, s, req(cl(9, "bob"), "f", "", 1), t0)
	_, _, err = s.Checkout(req(cl(9, "bob"), "f", "", 1), t0)
	wantDenial(t, err, CodeMaxUsers)
	// A MAX counted on existing holders after the change.
	s.SetPolicy(parsePolicy(t, "MAX 1 f USER bob"), t0)
	checkInvariants(t, s)
	if _, err := s.Checkin(4, 4, t0); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Checkout(req(cl(10, "bob"), "f", "", 1), t0)
	wantDenial(t, err, CodeMaxLimit)
	// Back to no options file.
	s.SetPolicy(nil, t0)
	mustCheckout(t, s, req(cl(10, "bob"), "f", "", 1), t0)
}

// TestReloadKeepsPolicy: an lmreread of the license file keeps the options
// file and recounts under it.
func TestReloadKeepsPolicy(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 3)}, Options{Policy: parsePolicy(t, "MAX 1 f USER ann")})
	mustCheckout(t, s, req(ann1, "f", "", 1), t0)
	s.Reload([]licfile.Pool{pl("k", "f", "1.0", 5), pl("k2", "f", "2.0", 5)}, t0)
	checkInvariants(t, s)
	_, _, err := s.Checkout(req(ann1, "f", "", 1), t0)
	wantDenial(t, err, CodeMaxLimit)
}

// TestIdleTimeout: TIMEOUT frees the licenses of a session idle that long,
// on the monotonic clock; activity or a checkout resets it, heartbeats do
// not.
func TestIdleTimeout(t *testing.T) {
	pools := []licfile.Pool{pl("k", "f", "1.0", 5), pl("g", "g", "1.0", 5), pl("h", "h", "1.0", 5)}
	tests := []struct {
		name    string
		opt     string
		steps   func(s *State, mono *time.Duration)
		expire  time.Duration // monotonic reading of the Expire
		want    []uint64      // handles freed
		wallNow time.Duration // now of the Expire
	}{
		{name: "not idle", opt: "TIMEOUT f 900", expire: time.Hour},
		{name: "idle less than TIMEOUT", opt: "TIMEOUT f 900",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(1, true, t0) }, expire: 899 * time.Second},
		{name: "idle exactly TIMEOUT", opt: "TIMEOUT f 900",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(1, true, t0) }, expire: 900 * time.Second, want: []uint64{1}},
		{name: "TIMEOUT below the minimum is raised", opt: "TIMEOUT f 60",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(1, true, t0) }, expire: 899 * time.Second},
		{name: "TIMEOUTALL for the others", opt: "TIMEOUT f 3600\nTIMEOUTALL 1000",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(1, true, t0) }, expire: 1000 * time.Second, want: []uint64{2, 3}},
		{name: "feature spec on another version", opt: "TIMEOUT f:VERSION=2.0 900",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(1, true, t0) }, expire: time.Hour},
		{name: "active again", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) {
				s.SetIdle(1, true, t0)
				*mono = 800 * time.Second
				s.SetIdle(1, false, t0)
				s.SetIdle(1, true, t0)
			}, expire: 1699 * time.Second},
		{name: "a second idle report keeps the first time", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) {
				s.SetIdle(1, true, t0)
				*mono = 800 * time.Second
				s.SetIdle(1, true, t0)
			}, expire: 900 * time.Second, want: []uint64{1, 2, 3}},
		{name: "heartbeats do not wake it", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) {
				s.SetIdle(1, true, t0)
				*mono = 800 * time.Second
				s.Heartbeat(1, t0)
			}, expire: 900 * time.Second, want: []uint64{1, 2, 3}},
		{name: "a checkout wakes it", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) {
				s.SetIdle(1, true, t0)
				*mono = 800 * time.Second
				s.Checkout(req(ann1, "f", "", 1), t0)
			}, expire: 900 * time.Second},
		{name: "a checkin wakes it", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) {
				s.SetIdle(1, true, t0)
				*mono = 800 * time.Second
				s.Checkin(1, 3, t0)
			}, expire: 900 * time.Second},
		{name: "wall clock steps do not count", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(1, true, t0) }, expire: 100 * time.Second, wallNow: 48 * time.Hour},
		{name: "other sessions untouched", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(2, true, t0) }, expire: time.Hour, want: []uint64{4}},
		{name: "unknown session ignored", opt: "TIMEOUTALL 900",
			steps: func(s *State, mono *time.Duration) { s.SetIdle(77, true, t0) }, expire: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mono time.Duration
			s := New(pools, Options{Policy: parsePolicy(t, tt.opt), Monotonic: func() time.Duration { return mono }})
			mustCheckout(t, s, req(ann1, "f", "", 1), t0)
			mustCheckout(t, s, req(ann1, "g", "", 1), t0)
			mustCheckout(t, s, req(ann1, "h", "", 1), t0)
			mustCheckout(t, s, req(cl(2, "bob"), "g", "", 1), t0)
			if tt.steps != nil {
				tt.steps(s, &mono)
			}
			mono = tt.expire
			ds := s.Expire(at(tt.wallNow))
			checkInvariants(t, s)
			var got []uint64
			for _, d := range ds {
				if d.Kind != Release || d.Reason != Timeout {
					t.Fatalf("delta %v %v, want Release timeout", d.Kind, d.Reason)
				}
				got = append(got, d.Holder.Handle)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("freed %v, want %v", got, tt.want)
			}
		})
	}
}

// TestIdleAndHeartbeatTimeout: a session both silent and idle is freed once.
func TestIdleAndHeartbeatTimeout(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 5)}, Options{HeartbeatTimeout: time.Minute, Policy: parsePolicy(t, "TIMEOUTALL 900")})
	mustCheckout(t, s, req(ann1, "f", "", 1), t0)
	s.SetIdle(1, true, t0)
	ds := s.Expire(at(time.Hour))
	if len(ds) != 1 {
		t.Fatalf("got %d deltas, want 1", len(ds))
	}
	checkInvariants(t, s)
}

// TestLinger: a checked-in license of a feature with a LINGER stays held,
// out of its session, until its LINGER ends; the same user, host and
// display take it back.
func TestLinger(t *testing.T) {
	pools := []licfile.Pool{pl("k", "f", "1.0", 1), pl("g", "g", "1.0", 1)}
	opt := "LINGER f 60"
	type step struct {
		op   string // checkout, checkin, close, expire, remove, removeh
		c    Client
		feat string
		hnd  uint64
		n    int // checkout count; 0 means 1
		at   time.Duration
		code int           // checkout/remove denial
		want []DeltaKind   // kinds of the deltas
		why  ReleaseReason // reason of the last delta, when a Release
	}
	bob := cl(2, "bob")
	ann2 := ann1
	ann2.Session, ann2.PID = 5, 4242
	tests := []struct {
		name  string
		steps []step
	}{
		{"checkin lingers, then ends", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann1, hnd: 1, at: 10 * time.Second, want: []DeltaKind{Linger}},
			{op: "checkout", c: bob, feat: "f", at: 20 * time.Second, code: CodeMaxUsers},
			{op: "expire", at: 69 * time.Second},
			{op: "expire", at: 70 * time.Second, want: []DeltaKind{Release}, why: LingerEnd},
			{op: "checkout", c: bob, feat: "f", at: 70 * time.Second, want: []DeltaKind{Grant}},
		}},
		{"taken back by the same user, host and display", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann1, hnd: 1, want: []DeltaKind{Linger}},
			{op: "checkout", c: ann2, feat: "f", at: 30 * time.Second, want: []DeltaKind{Rebind}},
			{op: "expire", at: time.Hour},
			{op: "checkin", c: ann2, hnd: 1, at: time.Hour, want: []DeltaKind{Linger}},
		}},
		{"not taken back by another display", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann1, hnd: 1, want: []DeltaKind{Linger}},
			{op: "checkout", c: func() Client { c := ann2; c.Display = ":1"; return c }(), feat: "f", code: CodeMaxUsers},
		}},
		{"not taken back for more licenses", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann1, hnd: 1, want: []DeltaKind{Linger}},
			{op: "checkout", c: ann2, feat: "f", n: 2, code: CodeTooMany},
		}},
		{"session close lingers only the lingering feature", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkout", c: ann1, feat: "g", want: []DeltaKind{Grant}},
			{op: "close", c: ann1, want: []DeltaKind{Linger, Release}, why: SessionClosed},
			{op: "checkout", c: bob, feat: "g", want: []DeltaKind{Grant}},
			{op: "expire", at: 60 * time.Second, want: []DeltaKind{Release}, why: LingerEnd},
		}},
		{"lmremove of a lingering license", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann1, hnd: 1, want: []DeltaKind{Linger}},
			{op: "removeh", feat: "f", hnd: 1, code: CodeRemoveLinger},
			{op: "remove", c: ann1, feat: "f", code: CodeRemoveLinger},
			{op: "checkin", c: ann1, hnd: 1, code: CodeNeverCheckedOut},
			{op: "close", c: ann1},
		}},
		{"reattach of a lingering handle takes it back", []step{
			{op: "checkout", c: ann1, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann1, hnd: 1, want: []DeltaKind{Linger}},
			{op: "checkout", c: ann1, feat: "f", hnd: 1, want: []DeltaKind{Rebind}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(pools, Options{Policy: parsePolicy(t, opt)})
			replica := New(pools, Options{Policy: parsePolicy(t, opt)})
			for i, st := range tt.steps {
				now := at(st.at)
				var ds []Delta
				var err error
				switch st.op {
				case "checkout":
					r := req(st.c, st.feat, "", st.n)
					r.Handle = st.hnd
					_, ds, err = s.Checkout(r, now)
				case "checkin":
					ds, err = s.Checkin(st.c.Session, st.hnd, now)
				case "close":
					ds = s.CloseSession(st.c.Session, now)
				case "expire":
					ds = s.Expire(now)
				case "remove":
					ds, err = s.Remove(st.feat, st.c.User, st.c.Host, st.c.Display, now)
				case "removeh":
					ds, err = s.RemoveHandle(st.feat, st.hnd, now)
				}
				checkInvariants(t, s)
				if st.code != 0 {
					wantDenial(t, err, st.code)
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				var kinds []DeltaKind
				for _, d := range ds {
					kinds = append(kinds, d.Kind)
					if err := replica.Apply(d); err != nil {
						t.Fatalf("step %d: Apply %v: %v", i, d.Kind, err)
					}
				}
				checkInvariants(t, replica)
				if !reflect.DeepEqual(kinds, st.want) {
					t.Fatalf("step %d (%s): deltas %v, want %v", i, st.op, kinds, st.want)
				}
				if len(ds) > 0 && ds[len(ds)-1].Kind == Release && ds[len(ds)-1].Reason != st.why {
					t.Fatalf("step %d: reason %v, want %v", i, ds[len(ds)-1].Reason, st.why)
				}
				assertSameSnapshot(t, s.Snapshot(), replica.Snapshot(), true)
				r, err := Restore(s.Snapshot(), Options{Policy: parsePolicy(t, opt)})
				if err != nil {
					t.Fatal(err)
				}
				checkInvariants(t, r)
				assertSameSnapshot(t, s.Snapshot(), r.Snapshot(), true)
			}
		})
	}
}

// TestLingerStatus: lmstat's "(linger: remaining / total)" comes from
// LingerUntil and Linger; the lingering license still counts.
func TestLingerStatus(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 2)}, Options{Policy: parsePolicy(t, "LINGER f 600")})
	c := with(ann1, "10.0.0.7", "apollo")
	mustCheckout(t, s, req(c, "f", "", 1), t0)
	ds, err := s.Checkin(1, 1, at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status("f")[0]
	if st.InUse != 1 || len(st.Pools[0].Holders) != 1 {
		t.Fatalf("status %+v", st)
	}
	h := st.Pools[0].Holders[0]
	if !h.LingerUntil.Equal(at(11*time.Minute)) || h.Linger != 10*time.Minute || h.Session != 0 || !h.LastSeen.Equal(at(time.Minute)) {
		t.Fatalf("lingering holder %+v", h)
	}
	if h.IP != "10.0.0.7" || h.Project != "apollo" {
		t.Fatalf("holder IP/Project %q %q", h.IP, h.Project)
	}
	if ds[0].Kind != Linger || ds[0].Reason != Checkin || !reflect.DeepEqual(ds[0].Holder, h) {
		t.Fatalf("linger delta %+v", ds[0])
	}
}

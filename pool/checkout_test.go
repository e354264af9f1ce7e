package pool

import (
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// TestDenials covers every denial code a checkout can produce, plus the
// grants at the edges of each rule.
func TestDenials(t *testing.T) {
	ann := cl(1, "ann")
	annIDs := ann
	annIDs.HostIDs = []string{"00aabbccddee", "10.1.2.3"}
	tests := []struct {
		name  string
		pools []licfile.Pool
		held  []CheckoutRequest // granted first
		req   CheckoutRequest
		now   time.Time
		code  int // 0: granted
		pool  string
	}{
		{name: "unknown feature", pools: []licfile.Pool{pl("k", "f", "1.0", 1)},
			req: req(ann, "g", "", 1), code: CodeNoFeature},
		{name: "version too high", pools: []licfile.Pool{pl("k", "f", "1.0", 1), pl("k2", "f", "2.0", 1)},
			req: req(ann, "f", "2.1", 1), code: CodeOldVersion},
		{name: "date version too high", pools: []licfile.Pool{pl("k", "f", "2017.06", 1)},
			req: req(ann, "f", "2017.12", 1), code: CodeOldVersion},
		{name: "version equal in decimal", pools: []licfile.Pool{pl("k", "f", "1.0", 1)},
			req: req(ann, "f", "1.000", 1), pool: "k"},
		{name: "version 10 >= 9.5", pools: []licfile.Pool{pl("k", "f", "10", 1)},
			req: req(ann, "f", "9.5", 1), pool: "k"},
		{name: "expired", pools: []licfile.Pool{pl("k", "f", "1.0", 1, expiry(2025, time.May, 31))},
			req: req(ann, "f", "", 1), code: CodeExpired},
		{name: "expiry day inclusive, last instant", pools: []licfile.Pool{pl("k", "f", "1.0", 1, expiry(2030, time.December, 31))},
			req: req(ann, "f", "", 1), now: time.Date(2030, 12, 31, 23, 59, 59, 999999999, time.UTC), pool: "k"},
		{name: "expiry day inclusive, next day", pools: []licfile.Pool{pl("k", "f", "1.0", 1, expiry(2030, time.December, 31))},
			req: req(ann, "f", "", 1), now: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), code: CodeExpired},
		{name: "year 0 expiry is permanent", pools: []licfile.Pool{pl("k", "f", "1.0", 1, expiry(0, time.January, 1))},
			req: req(ann, "f", "", 1), pool: "k"},
		{name: "expired pool skipped for a live one", pools: []licfile.Pool{pl("k", "f", "1.0", 1, expiry(2020, 1, 1)), pl("k2", "f", "1.0", 1)},
			req: req(ann, "f", "", 1), pool: "k2"},
		{name: "start in the future", pools: []licfile.Pool{pl("k", "f", "1.0", 1, start(2025, time.June, 2))},
			req: req(ann, "f", "", 1), now: time.Date(2025, 6, 1, 23, 59, 59, 999999999, time.UTC), code: CodeTooEarly},
		{name: "start day itself", pools: []licfile.Pool{pl("k", "f", "1.0", 1, start(2025, time.June, 2))},
			req: req(ann, "f", "", 1), now: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), pool: "k"},
		{name: "expired beats not started: furthest stage wins", pools: []licfile.Pool{pl("k", "f", "1.0", 1, expiry(2020, 1, 1)), pl("k2", "f", "1.0", 1, start(2030, 1, 1))},
			req: req(ann, "f", "", 1), code: CodeTooEarly},
		{name: "node-locked elsewhere", pools: []licfile.Pool{pl("k", "f", "1.0", 1, hostid("001122334455"))},
			req: req(annIDs, "f", "", 1), code: CodeNotThisHost},
		{name: "node-locked here", pools: []licfile.Pool{pl("k", "f", "1.0", 1, hostid("00AABBCCDDEE"))},
			req: req(annIDs, "f", "", 1), pool: "k"},
		{name: "node-locked INTERNET wildcard", pools: []licfile.Pool{pl("k", "f", "1.0", 1, hostid("INTERNET=10.1.*.*"))},
			req: req(annIDs, "f", "", 1), pool: "k"},
		{name: "node-locked HOSTNAME", pools: []licfile.Pool{pl("k", "f", "1.0", 1, hostid("HOSTNAME=host-bob"))},
			req: req(ann, "f", "", 1), code: CodeNotThisHost},
		{name: "more than the pool supports", pools: []licfile.Pool{pl("k", "f", "1.0", 2)},
			req: req(ann, "f", "", 3), code: CodeTooMany},
		{name: "more than any one pool supports", pools: []licfile.Pool{pl("k", "f", "1.0", 2), pl("k2", "f", "2.0", 2)},
			req: req(ann, "f", "", 3), code: CodeTooMany},
		{name: "overdraft raises the limit", pools: []licfile.Pool{pl("k", "f", "1.0", 2, overdraft(1))},
			req: req(ann, "f", "", 3), pool: "k"},
		{name: "overdraft limit", pools: []licfile.Pool{pl("k", "f", "1.0", 2, overdraft(1))},
			req: req(ann, "f", "", 4), code: CodeTooMany},
		{name: "all in use", pools: []licfile.Pool{pl("k", "f", "1.0", 1)},
			held: []CheckoutRequest{req(cl(2, "bob"), "f", "", 1)},
			req:  req(ann, "f", "", 1), code: CodeMaxUsers},
		{name: "all in use, counts summed", pools: []licfile.Pool{pl("k", "f", "1.0", 3)},
			held: []CheckoutRequest{req(cl(2, "bob"), "f", "", 2)},
			req:  req(ann, "f", "", 2), code: CodeMaxUsers},
		{name: "full pool skipped for the next version", pools: []licfile.Pool{pl("k", "f", "1.0", 1), pl("k2", "f", "2.0", 1)},
			held: []CheckoutRequest{req(cl(2, "bob"), "f", "", 1)},
			req:  req(ann, "f", "", 1), pool: "k2"},
		{name: "lowest sufficient version first", pools: []licfile.Pool{pl("k3", "f", "3.0", 1), pl("k1", "f", "1.0", 1), pl("k2", "f", "2.0", 1)},
			req: req(ann, "f", "1.5", 1), pool: "k2"},
		{name: "same version: file order", pools: []licfile.Pool{pl("kb", "f", "1.0", 1), pl("ka", "f", "1.00", 1)},
			req: req(ann, "f", "", 1), pool: "kb"},
		{name: "uncounted, node-locked here", pools: []licfile.Pool{pl("k", "f", "1.0", 0, uncounted, hostid("HOSTNAME=host-ann"))},
			held: []CheckoutRequest{req(ann, "f", "", 5), req(ann, "f", "", 5)},
			req:  req(ann, "f", "", 9), pool: "k"},
		{name: "uncounted, node-locked elsewhere", pools: []licfile.Pool{pl("k", "f", "1.0", 0, uncounted, hostid("HOSTNAME=host-bob"))},
			req: req(ann, "f", "", 1), code: CodeNotThisHost},
		{name: "uncounted still expires", pools: []licfile.Pool{pl("k", "f", "1.0", 0, uncounted, hostid("ANY"), expiry(2025, 1, 1))},
			req: req(ann, "f", "", 1), code: CodeExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.pools, Options{})
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			for _, r := range tt.held {
				mustCheckout(t, s, r, now)
			}
			before := s.Seq()
			h, ds, err := s.Checkout(tt.req, now)
			if tt.code != 0 {
				wantDenial(t, err, tt.code)
				if len(ds) != 0 || s.Seq() != before {
					t.Fatalf("denied checkout produced deltas %v", ds)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a grant from %q", err, tt.pool)
			}
			if h.PoolKey != tt.pool {
				t.Fatalf("granted from pool %q, want %q", h.PoolKey, tt.pool)
			}
			if len(ds) != 1 || ds[0].Kind != Grant || ds[0].Holder.Handle != h.Handle || ds[0].Seq != before+1 {
				t.Fatalf("got deltas %+v, want one Grant of handle %d", ds, h.Handle)
			}
			checkInvariants(t, s)
		})
	}
}

func TestDenialText(t *testing.T) {
	want := map[int]string{
		-4:  "Licensed number of users already reached.",
		-5:  "No such feature exists.",
		-9:  "Invalid host.",
		-10: "Feature has expired.",
		-21: "License file does not support this version.",
		-26: "Request for more licenses than this feature supports.",
		-31: "Feature start date is in the future.",
		-41: "Feature was never checked out.",
		-92: "Feature removed during lmreread, or wrong SERVER line hostid.",
	}
	for code, text := range want {
		d := NewDenial(code)
		if d.Code != code || d.Error() != text {
			t.Errorf("NewDenial(%d) = %d %q, want %q", code, d.Code, d.Error(), text)
		}
	}
	if got := Reread.Code(); got != CodeServerRemoved {
		t.Errorf("Reread.Code() = %d, want -92", got)
	}
	if got := Checkin.Code(); got != 0 {
		t.Errorf("Checkin.Code() = %d, want 0", got)
	}
}

func TestIncrementPoolsStatus(t *testing.T) {
	// Two INCREMENT pools of one name (different versions) and an
	// uncounted feature; Status sums the issued counts per name.
	s := New([]licfile.Pool{
		pl("m12", "MATLAB", "12", 100),
		pl("m53", "MATLAB", "53", 300, overdraft(5)),
		pl("m52", "MATLAB", "52", 20),
		pl("ser", "SERIAL", "1.0", 0, uncounted, hostid("ANY")),
	}, Options{})
	h1 := mustCheckout(t, s, req(cl(1, "ann"), "MATLAB", "52.5", 3), at(2*time.Second))
	h2 := mustCheckout(t, s, req(cl(2, "bob"), "MATLAB", "", 1), at(time.Second))
	h3 := mustCheckout(t, s, req(cl(3, "cy"), "SERIAL", "", 1), t0)
	if h1.PoolKey != "m53" || h2.PoolKey != "m12" {
		t.Fatalf("pools %q %q, want m53 m12", h1.PoolKey, h2.PoolKey)
	}
	st := s.Status("")
	if len(st) != 2 || st[0].Name != "MATLAB" || st[1].Name != "SERIAL" {
		t.Fatalf("Status names %+v, want MATLAB SERIAL", st)
	}
	m := st[0]
	if m.Issued != 420 || m.InUse != 4 || m.Uncounted {
		t.Errorf("MATLAB issued %d in use %d uncounted %v, want 420 4 false", m.Issued, m.InUse, m.Uncounted)
	}
	if len(m.Pools) != 3 || m.Pools[0].Pool.Key != "m12" || m.Pools[1].Pool.Key != "m53" || m.Pools[2].Pool.Key != "m52" {
		t.Fatalf("MATLAB pools not in file order: %+v", m.Pools)
	}
	if m.Pools[1].InUse != 3 || len(m.Pools[1].Holders) != 1 || m.Pools[1].Holders[0].Handle != h1.Handle {
		t.Errorf("m53 status %+v", m.Pools[1])
	}
	ser := st[1]
	if !ser.Uncounted || ser.Issued != 0 || ser.InUse != 1 || ser.Pools[0].Holders[0].Handle != h3.Handle {
		t.Errorf("SERIAL status %+v", ser)
	}
	if got := s.Status("nope"); got != nil {
		t.Errorf("Status(nope) = %v, want nil", got)
	}
	if s.Holders() != 3 {
		t.Errorf("Holders() = %d, want 3", s.Holders())
	}
}

func TestStatusHolderOrder(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 10)}, Options{})
	a := mustCheckout(t, s, req(cl(1, "a"), "f", "", 1), at(3*time.Second))
	b := mustCheckout(t, s, req(cl(2, "b"), "f", "", 1), at(time.Second))
	c := mustCheckout(t, s, req(cl(3, "c"), "f", "", 1), at(time.Second))
	hs := s.Status("f")[0].Pools[0].Holders
	got := []uint64{hs[0].Handle, hs[1].Handle, hs[2].Handle}
	want := []uint64{b.Handle, c.Handle, a.Handle}
	if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("holder order %v, want %v (by Start, then Handle)", got, want)
	}
}

func TestOverdraft(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 2, overdraft(1))}, Options{})
	for i := range 3 {
		mustCheckout(t, s, req(cl(uint64(i+1), "u"), "f", "", 1), t0)
	}
	_, _, err := s.Checkout(req(cl(9, "u"), "f", "", 1), t0)
	wantDenial(t, err, CodeMaxUsers)
	st := s.Status("f")[0]
	if st.Issued != 2 || st.InUse != 3 {
		t.Fatalf("issued %d in use %d, want 2 3", st.Issued, st.InUse)
	}
}

func TestDupGroup(t *testing.T) {
	type co struct {
		c     Client
		count int
		code  int // 0: granted
		inUse int // pool's in-use count afterwards
	}
	ann1, ann2 := cl(1, "ann"), cl(2, "ann")
	annOther := cl(3, "ann")
	annOther.Host = "elsewhere"
	annDisp := cl(4, "ann")
	annDisp.Display = ":9"
	bob := cl(5, "bob")
	tests := []struct {
		name  string
		group string
		count int
		seq   []co
	}{
		{"UHD shares same user host display", "UHD", 1, []co{
			{ann1, 1, 0, 1}, {ann2, 1, 0, 1}, {annOther, 1, CodeMaxUsers, 1}, {annDisp, 1, CodeMaxUsers, 1}, {bob, 1, CodeMaxUsers, 1}}},
		{"U shares across hosts", "U", 1, []co{
			{ann1, 1, 0, 1}, {annOther, 1, 0, 1}, {annDisp, 1, 0, 1}, {bob, 1, CodeMaxUsers, 1}}},
		{"H shares per host", "H", 2, []co{
			{ann1, 1, 0, 1}, {annOther, 1, 0, 2}, {ann2, 1, 0, 2}, {bob, 1, CodeMaxUsers, 2}}},
		{"SITE shares everything", "SITE", 1, []co{
			{ann1, 1, 0, 1}, {annOther, 1, 0, 1}, {bob, 1, 0, 1}}},
		{"NONE shares nothing", "NONE", 1, []co{
			{ann1, 1, 0, 1}, {ann2, 1, CodeMaxUsers, 1}}},
		{"larger duplicate takes the difference", "UHD", 3, []co{
			{ann1, 1, 0, 1}, {ann2, 2, 0, 2}, {ann2, 3, 0, 3}, {bob, 1, CodeMaxUsers, 3}}},
		{"duplicate of full pool larger than pool", "UHD", 2, []co{
			{ann1, 2, 0, 2}, {ann2, 3, CodeTooMany, 2}, {ann2, 1, 0, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New([]licfile.Pool{pl("k", "f", "1.0", tt.count, dupGrp(tt.group))}, Options{})
			var handles []Holder
			for i, c := range tt.seq {
				h, _, err := s.Checkout(req(c.c, "f", "", c.count), t0)
				if c.code != 0 {
					wantDenial(t, err, c.code)
				} else if err != nil {
					t.Fatalf("step %d: %v", i, err)
				} else {
					handles = append(handles, h)
				}
				checkInvariants(t, s)
				if got := inUse(t, s, "f"); got != c.inUse {
					t.Fatalf("step %d: in use %d, want %d", i, got, c.inUse)
				}
			}
			// Checking everything in frees everything.
			for _, h := range handles {
				if _, err := s.Checkin(h.Session, h.Handle, t0); err != nil {
					t.Fatal(err)
				}
				checkInvariants(t, s)
			}
			if got := inUse(t, s, "f"); got != 0 || s.Holders() != 0 {
				t.Fatalf("after checkins: in use %d, holders %d", got, s.Holders())
			}
		})
	}
}

func TestDupGroupLastMemberFrees(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 1, dupGrp("UHD"))}, Options{})
	a := mustCheckout(t, s, req(cl(1, "ann"), "f", "", 1), t0)
	b := mustCheckout(t, s, req(cl(2, "ann"), "f", "", 1), t0)
	if _, err := s.Checkin(1, a.Handle, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Checkout(req(cl(3, "bob"), "f", "", 1), t0); err == nil {
		t.Fatal("bob got a license still shared by ann's second handle")
	}
	if _, err := s.Checkin(2, b.Handle, t0); err != nil {
		t.Fatal(err)
	}
	mustCheckout(t, s, req(cl(3, "bob"), "f", "", 1), t0)
}

func TestHandlesIncrease(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 10)}, Options{FirstHandle: 100})
	var last uint64
	for i := range 5 {
		h := mustCheckout(t, s, req(cl(1, "a"), "f", "", 1), t0)
		if h.Handle <= last || (i == 0 && h.Handle != 100) {
			t.Fatalf("handle %d after %d", h.Handle, last)
		}
		last = h.Handle
		if i%2 == 0 {
			if _, err := s.Checkin(1, h.Handle, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestDateLocation(t *testing.T) {
	// Dates are calendar days in Options.Location: at 14:00 UTC on 1 June it
	// is already 2 June in UTC+10, past a 1-jun-2025 expiry.
	zone := time.FixedZone("UTC+10", 10*3600)
	pools := []licfile.Pool{pl("k", "f", "1.0", 5, expiry(2025, time.June, 1))}
	now := time.Date(2025, 6, 1, 14, 0, 0, 0, time.UTC)
	if _, _, err := New(pools, Options{}).Checkout(req(cl(1, "a"), "f", "", 1), now); err != nil {
		t.Fatalf("UTC: %v", err)
	}
	_, _, err := New(pools, Options{Location: zone}).Checkout(req(cl(1, "a"), "f", "", 1), now)
	wantDenial(t, err, CodeExpired)
}

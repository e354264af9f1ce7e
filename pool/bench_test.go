package pool

import (
	"fmt"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

// loaded returns a State with n holders spread over 10 sessions per user
// and 4 features of 2 pools each.
func loaded(b *testing.B, n int) *State { return loadedWith(b, n, "") }

// loadedWith is loaded under the options file opt ("": none).
func loadedWith(b *testing.B, n int, opt string) *State {
	b.Helper()
	var pools []licfile.Pool
	for f := range 4 {
		name := fmt.Sprintf("feat%d", f)
		pools = append(pools,
			pl(name+"/1", name, "1.0", n),
			pl(name+"/2", name, "2.0", n, dupGrp("UHD")))
	}
	opts := Options{HeartbeatTimeout: time.Hour}
	if opt != "" {
		opts.Policy = parsePolicy(b, opt)
	}
	s := New(pools, opts)
	for i := range n {
		c := Client{Session: uint64(i / 10), User: fmt.Sprintf("user%d", i%1000), Host: fmt.Sprintf("host%d", i%700), Display: ":0", PID: i}
		v := ""
		if i%3 == 0 {
			v = "2.0"
		}
		if _, _, err := s.Checkout(CheckoutRequest{Client: c, Feature: fmt.Sprintf("feat%d", i%4), Version: v}, at(time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchmarkCheckoutCheckin(b *testing.B, n int) { benchmarkCheckoutCheckinWith(b, n, "") }

func benchmarkCheckoutCheckinWith(b *testing.B, n int, opt string) {
	s := loadedWith(b, n, opt)
	c := Client{Session: 1 << 40, User: "bench", Host: "benchhost", Display: ":0", PID: 1, HostIDs: []string{"00aabbccddee"}}
	r := CheckoutRequest{Client: c, Feature: "feat1", Version: "1.0"}
	now := at(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		h, _, err := s.Checkout(r, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Checkin(c.Session, h.Handle, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckoutCheckin is one checkout and its checkin, with 10,000
// other holders present.
func BenchmarkCheckoutCheckin(b *testing.B) { benchmarkCheckoutCheckin(b, 10000) }

// BenchmarkCheckoutCheckin100k is the same with 100,000 holders present.
func BenchmarkCheckoutCheckin100k(b *testing.B) { benchmarkCheckoutCheckin(b, 100000) }

// benchPolicy is an options file of 20 lines, most of them on the
// benchmark's feature: INCLUDE/EXCLUDE lists, MAX and RESERVE lines on
// users, groups, host groups and projects, MAX_OVERDRAFT, TIMEOUT, LINGER.
const benchPolicy = `GROUP eng bench user1 user2 user3
GROUP ops user7 user8
HOST_GROUP lab host1 host2
EXCLUDE feat1 USER mallory
EXCLUDE feat1 INTERNET 192.168.*.*
EXCLUDEALL USER eve
MAX 1000 feat1 GROUP eng
MAX 50 feat1 USER bench
MAX 500 feat1 HOST_GROUP lab
MAX 900 feat1 PROJECT apollo
MAX 100 feat2 USER user4
RESERVE 10 feat1 GROUP ops
RESERVE 5 feat1:VERSION=1.0 USER user9
RESERVE 5 feat1 PROJECT zeus
RESERVE 2 feat2 USER user5
MAX_OVERDRAFT feat1 0
TIMEOUT feat1 3600
TIMEOUTALL 7200
LINGER feat3 10
GROUPCASEINSENSITIVE ON
`

// BenchmarkCheckoutCheckinPolicy is BenchmarkCheckoutCheckin under
// benchPolicy: the cost per checkout grows with the lines on the feature,
// not with the holders (compare the 100k variant).
func BenchmarkCheckoutCheckinPolicy(b *testing.B) {
	benchmarkCheckoutCheckinWith(b, 10000, benchPolicy)
}

// BenchmarkCheckoutCheckinPolicy100k is the same with 100,000 holders.
func BenchmarkCheckoutCheckinPolicy100k(b *testing.B) {
	benchmarkCheckoutCheckinWith(b, 100000, benchPolicy)
}

// BenchmarkStatus10000 is a full lmstat over 10,000 holders.
func BenchmarkStatus10000(b *testing.B) {
	s := loaded(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if st := s.Status(""); len(st) != 4 {
			b.Fatal(len(st))
		}
	}
}

// BenchmarkExpire100k scans 100,000 holders of which none has timed out.
func BenchmarkExpire100k(b *testing.B) {
	s := loaded(b, 100000)
	now := at(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if ds := s.Expire(now); len(ds) != 0 {
			b.Fatal(len(ds))
		}
	}
}

// BenchmarkApplyGrantRelease replays a checkout/checkin pair on a replica.
func BenchmarkApplyGrantRelease(b *testing.B) {
	master := loaded(b, 10000)
	replica, err := Restore(master.Snapshot(), Options{HeartbeatTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	c := Client{Session: 1 << 40, User: "bench", Host: "benchhost", Display: ":0", PID: 1}
	r := CheckoutRequest{Client: c, Feature: "feat1"}
	now := at(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		h, ds, _ := master.Checkout(r, now)
		ds2, _ := master.Checkin(c.Session, h.Handle, now)
		if err := replica.Apply(ds[0]); err != nil {
			b.Fatal(err)
		}
		if err := replica.Apply(ds2[0]); err != nil {
			b.Fatal(err)
		}
	}
}

package options

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ref(name string, kv ...string) FeatureRef {
	f := FeatureRef{Name: name, Attrs: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Attrs[kv[i]] = kv[i+1]
	}
	return f
}

var (
	jan  = Requester{User: "jan", Host: "ws1.example.com", Display: "ws1:0", IP: "10.1.2.3", Project: "apollo"}
	pat  = Requester{User: "pat", Host: "ws2", IP: "192.168.7.8"}
	anon = Requester{}
)

func TestAllowed(t *testing.T) {
	tests := []struct {
		name string
		opt  string
		f    FeatureRef
		r    Requester
		want int
		why  string // substring of the reason; "" checks an empty reason
	}{
		{"no lists", "NOLOG IN", ref("f1"), jan, 0, ""},
		{"include lists jan", "INCLUDE f1 USER jan", ref("f1"), jan, 0, "by INCLUDE USER jan at t.opt:1"},
		{"include leaves pat out", "INCLUDE f1 USER jan", ref("f1"), pat, wire.CodeFeatNotInclude, "not on the INCLUDE list for f1 (first entry at t.opt:1)"},
		{"include of another feature", "INCLUDE f2 USER jan", ref("f1"), pat, 0, ""},
		{"exclude only", "EXCLUDE f1 USER pat", ref("f1"), pat, wire.CodeFeatExclude, "excluded from f1 by EXCLUDE USER pat at t.opt:1"},
		{"exclude only, others allowed", "EXCLUDE f1 USER pat", ref("f1"), jan, 0, ""},
		{"exclude before include", "INCLUDE f1 USER jan\nEXCLUDE f1 HOST WS1.EXAMPLE.COM", ref("f1"), jan, wire.CodeFeatExclude, "EXCLUDE HOST WS1.EXAMPLE.COM at t.opt:2"},
		{"excludeall", "EXCLUDEALL INTERNET 192.168.*.*", ref("any"), pat, wire.CodeFeatExclude, "by EXCLUDEALL INTERNET 192.168.*.* at t.opt:1"},
		{"includeall", "INCLUDEALL PROJECT apollo", ref("any"), jan, 0, "INCLUDEALL PROJECT apollo"},
		{"includeall leaves pat out", "INCLUDEALL PROJECT apollo", ref("any"), pat, wire.CodeFeatNotInclude, "not on the INCLUDEALL list"},
		{"include and includeall combine", "INCLUDEALL USER pat\nINCLUDE f1 USER jan", ref("f1"), pat, 0, "INCLUDEALL USER pat at t.opt:1"},
		{"user case-sensitive", "INCLUDE f1 USER JAN", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"user case-insensitive", "INCLUDE f1 USER JAN\nGROUPCASEINSENSITIVE ON", ref("f1"), jan, 0, "USER JAN"},
		{"display", "EXCLUDE f1 DISPLAY ws1:0", ref("f1"), jan, wire.CodeFeatExclude, ""},
		{"display exact", "EXCLUDE f1 DISPLAY WS1:0", ref("f1"), jan, 0, ""},
		{"project exact", "INCLUDE f1 PROJECT Apollo", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"internet octet", "INCLUDE f1 INTERNET 10.1.2.3", ref("f1"), jan, 0, ""},
		{"internet wildcard", "INCLUDE f1 INTERNET 10.*.2.*", ref("f1"), jan, 0, ""},
		{"internet miss", "INCLUDE f1 INTERNET 10.*.3.*", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"internet mapped v6", "INCLUDE f1 INTERNET 10.1.2.3", ref("f1"), Requester{IP: "::ffff:10.1.2.3"}, 0, ""},
		{"internet v6 never", "INCLUDE f1 INTERNET *.*.*.*", ref("f1"), Requester{IP: "2001:db8::1"}, wire.CodeFeatNotInclude, ""},
		{"internet no ip", "INCLUDE f1 INTERNET *.*.*.*", ref("f1"), anon, wire.CodeFeatNotInclude, ""},
		{"group", "GROUP g pat jan\nINCLUDE f1 GROUP g", ref("f1"), jan, 0, "GROUP g"},
		{"group lines combine", "GROUP g pat\nGROUP g jan\nINCLUDE f1 GROUP g", ref("f1"), jan, 0, ""},
		{"group case-sensitive", "GROUP g JAN\nINCLUDE f1 GROUP g", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"group case-insensitive", "GROUP g JAN\nINCLUDE f1 GROUP g\nGROUPCASEINSENSITIVE ON", ref("f1"), jan, 0, ""},
		{"group switched off again", "GROUPCASEINSENSITIVE ON\nGROUP g JAN\nINCLUDE f1 GROUP g\nGROUPCASEINSENSITIVE OFF", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"group name is case-sensitive", "GROUPCASEINSENSITIVE ON\nGROUP G jan\nINCLUDE f1 GROUP g", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"undefined group matches nobody", "INCLUDE f1 GROUP nope", ref("f1"), jan, wire.CodeFeatNotInclude, ""},
		{"host group ignores case", "HOST_GROUP hg WS1.example.com\nEXCLUDE f1 HOST_GROUP hg", ref("f1"), jan, wire.CodeFeatExclude, ""},
		{"empty requester", "EXCLUDE f1 USER jan", ref("f1"), anon, 0, ""},
		{"version spec applies", "INCLUDE f1:VERSION=2 USER pat", ref("f1", "VERSION", "2.0"), jan, wire.CodeFeatNotInclude, ""},
		{"version spec leaves other pools", "INCLUDE f1:VERSION=2 USER pat", ref("f1", "VERSION", "3.0"), jan, 0, ""},
		{"version spec without attr", "INCLUDE f1:VERSION=2 USER pat", ref("f1"), jan, 0, ""},
		{"sn spec", "EXCLUDE f1:SN=abc USER jan", ref("f1", "SN", "abc"), jan, wire.CodeFeatExclude, ""},
		{"sn exact", "EXCLUDE f1:SN=abc USER jan", ref("f1", "SN", "ABC"), jan, 0, ""},
		{"hostid ignores case", "EXCLUDE f1:HOSTID=00AB USER jan", ref("f1", "HOSTID", "00ab"), jan, wire.CodeFeatExclude, ""},
		{"vendor string", `EXCLUDE f1:VENDOR_STRING="a b" USER jan`, ref("f1", "VENDOR_STRING", "a b"), jan, wire.CodeFeatExclude, ""},
		{"asset_info key upper-cased", "EXCLUDE f1:asset_info=x USER jan", ref("f1", "ASSET_INFO", "x"), jan, wire.CodeFeatExclude, ""},
		{"feature name case-sensitive", "EXCLUDE F1 USER jan", ref("f1"), jan, 0, ""},
		{"borrow lists do not gate use", "INCLUDE_BORROW f1 USER pat", ref("f1"), jan, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := parseString(t, tt.opt)
			code, why := o.Allowed(tt.f, tt.r)
			assert.Equal(t, tt.want, code, "why: %s", why)
			if tt.why == "" && tt.want == 0 && !strings.Contains(tt.opt, "INCLUDE") {
				assert.Empty(t, why)
			}
			assert.Contains(t, why, tt.why)
		})
	}
}

func TestBorrowAllowed(t *testing.T) {
	o := parseString(t, "INCLUDE_BORROW f1 USER jan\nEXCLUDE_BORROW f2 USER jan\nEXCLUDEALL USER pat\nINCLUDE f3 USER pat")
	tests := []struct {
		f    string
		r    Requester
		want int
	}{
		{"f1", jan, 0},
		{"f1", pat, wire.CodeFeatNotInclude},
		{"f2", jan, wire.CodeFeatExclude},
		{"f2", pat, 0}, // EXCLUDEALL gates use, not borrowing
		{"f3", jan, 0},
	}
	for _, tt := range tests {
		code, why := o.BorrowAllowed(ref(tt.f), tt.r)
		assert.Equal(t, tt.want, code, "%s %s: %s", tt.f, tt.r.User, why)
	}
}

func TestReservationsAndMax(t *testing.T) {
	o := parseString(t, `
GROUP eng jan pat
RESERVE 2 f1 GROUP eng
RESERVE 1 f1:VERSION=2.0 USER jan
RESERVE 4 f2 USER jan
MAX 5 f1 GROUP eng
MAX 3 f1 USER jan
MAX 1 f1:VERSION=1 HOST ws2
INCLUDE f1 GROUP eng
`)
	require.NoError(t, o.Errors())
	f1v2 := ref("f1", "VERSION", "2")
	res := o.Reservations(f1v2)
	require.Len(t, res, 2)
	assert.Equal(t, Reservation{Pos: Pos{"t.opt", 3}, Count: 2, Feature: FeatureSpec{Name: "f1"}, Entity: Entity{TypeGroup, "eng"}}, res[0])
	assert.Equal(t, 1, res[1].Count)
	assert.Equal(t, TypeUser, res[1].Type)
	assert.Equal(t, "jan", res[1].Name)
	assert.True(t, o.ReservationMatches(res[0], pat))
	assert.False(t, o.ReservationMatches(res[1], pat))
	assert.True(t, o.ReservationMatches(res[1], jan))
	assert.Len(t, o.Reservations(ref("f1", "VERSION", "1")), 1)
	assert.Empty(t, o.Reservations(ref("f3")))

	tests := []struct {
		f     FeatureRef
		r     Requester
		limit int
		ok    bool
	}{
		{f1v2, jan, 3, true},                      // GROUP 5 and USER 3: the smaller
		{f1v2, pat, 5, true},                      // only the group
		{ref("f1", "VERSION", "1"), pat, 1, true}, // host ws2
		{ref("f2"), jan, 0, false},
		{f1v2, Requester{User: "zoe"}, 0, false},
	}
	for _, tt := range tests {
		limit, ok := o.Max(tt.f, tt.r)
		assert.Equal(t, tt.limit, limit, "%v %s", tt.f, tt.r.User)
		assert.Equal(t, tt.ok, ok)
	}
	lims := o.Limits(f1v2)
	require.Len(t, lims, 2)
	assert.Equal(t, Limit{Pos: Pos{"t.opt", 6}, Max: 5, Feature: FeatureSpec{Name: "f1"}, Entity: Entity{TypeGroup, "eng"}}, lims[0])

	// All three on one feature: zoe may not use f1 at all; jan may, within 3.
	code, _ := o.Allowed(f1v2, Requester{User: "zoe"})
	assert.Equal(t, wire.CodeFeatNotInclude, code)
	code, _ = o.Allowed(f1v2, jan)
	assert.Equal(t, 0, code)
}

func TestScalars(t *testing.T) {
	o := parseString(t, `
TIMEOUTALL 1200
TIMEOUT f1 3600
TIMEOUT f1:VERSION=2 7200
TIMEOUT f2 10
LINGER f1 30
LINGER f1 45
MAX_OVERDRAFT f1 2
BORROW_LOWWATER f1 3
MAX_BORROW_HOURS f1 72
MAX_BORROW_HOURS f1 24
NOLOG OUT
REPORTLOG r1
REPORTLOG +r2
DEBUGLOG d
`)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"timeout f1", dur(o.Timeout(ref("f1"))), "1h0m0s true"},
		{"timeout f1 v2", dur(o.Timeout(ref("f1", "VERSION", "2.0"))), "2h0m0s true"},
		{"timeout raised", dur(o.Timeout(ref("f2"))), "15m0s true"},
		{"timeoutall", dur(o.Timeout(ref("f3"))), "20m0s true"},
		{"linger last wins", dur(o.Linger(ref("f1"))), "45s true"},
		{"no linger", dur(o.Linger(ref("f2"))), "0s false"},
		{"overdraft", pair(o.MaxOverdraft(ref("f1"))), "2 true"},
		{"lowwater", pair(o.BorrowLowwater(ref("f1"))), "3 true"},
		{"no lowwater", pair(o.BorrowLowwater(ref("f2"))), "0 false"},
		{"borrow hours last wins", pair(o.MaxBorrowHours(ref("f1"))), "24 true"},
		{"nolog out", o.NoLog(LogOut), true},
		{"nolog in", o.NoLog(LogIn), false},
		{"nolog bad kind", o.NoLog(LogKind(42)), false},
		{"reportlog", fmtAll(o.ReportLog()), "r2 true true"},
		{"debuglog", fmtAll(o.DebugLog()), "d false true"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, tt.name)
	}
	none := parseString(t, "NOLOG IN")
	assert.Equal(t, "0s false", dur(none.Timeout(ref("f1"))))
	assert.Equal(t, " false false", fmtAll(none.ReportLog()))
	assert.Equal(t, " false false", fmtAll(none.DebugLog()))
}

func dur(d time.Duration, ok bool) string { return fmt.Sprint(d, " ", ok) }
func pair(n int, ok bool) string          { return fmt.Sprint(n, " ", ok) }
func fmtAll(p string, a, ok bool) string  { return fmt.Sprint(p, " ", a, " ", ok) }

func TestNilOptions(t *testing.T) {
	var o *Options
	code, why := o.Allowed(ref("f1"), jan)
	assert.Equal(t, 0, code)
	assert.Empty(t, why)
	code, _ = o.BorrowAllowed(ref("f1"), jan)
	assert.Equal(t, 0, code)
	assert.Empty(t, o.Reservations(ref("f1")))
	_, ok := o.Max(ref("f1"), jan)
	assert.False(t, ok)
	_, ok = o.Timeout(ref("f1"))
	assert.False(t, ok)
	assert.False(t, o.NoLog(LogIn))
	_, _, ok = o.ReportLog()
	assert.False(t, ok)
	assert.False(t, o.CaseInsensitive())
	assert.Nil(t, o.Group("g"))
	assert.NoError(t, o.Errors())
	assert.Equal(t, "", o.String())
	assert.True(t, o.Matches(Entity{TypeUser, "jan"}, jan))
	assert.False(t, o.Matches(Entity{TypeGroup, "g"}, jan))
}

func TestGroups(t *testing.T) {
	o := parseString(t, "GROUP g a b\nGROUP g b c\nHOST_GROUP h x\nGROUPCASEINSENSITIVE ON")
	assert.Equal(t, []string{"a", "b", "c"}, o.Group("g"))
	assert.Equal(t, []string{"x"}, o.HostGroup("h"))
	assert.Nil(t, o.Group("h"))
	assert.True(t, o.CaseInsensitive())
	assert.True(t, o.Matches(Entity{TypeGroup, "g"}, Requester{User: "C"}))
	assert.True(t, o.Matches(Entity{TypeHostGroup, "h"}, Requester{Host: "X"}))
	assert.False(t, o.Matches(Entity{Type(0), "x"}, Requester{User: "x"}))
}

func TestFeatureRefOf(t *testing.T) {
	lf, err := licfile.Parse("t.lic", []byte(`FEATURE f1 v 2.0 permanent 5 SN=42 VENDOR_STRING="a b" asset_info=tag1 HOSTID=00AB SIGN=1`+"\n"))
	require.NoError(t, err)
	require.Len(t, lf.Features, 1)
	r := FeatureRefOf(&lf.Features[0])
	assert.Equal(t, "f1", r.Name)
	assert.Equal(t, "2.0", r.Attrs["VERSION"])
	assert.Equal(t, "42", r.Attrs["SN"])
	assert.Equal(t, "a b", r.Attrs["VENDOR_STRING"])
	assert.Equal(t, "tag1", r.Attrs["ASSET_INFO"])
	assert.Equal(t, "00AB", r.Attrs["HOSTID"])

	o := parseString(t, "EXCLUDE f1:asset_info=tag1 USER jan\nEXCLUDE f1:VERSION=2 USER pat")
	code, _ := o.Allowed(r, jan)
	assert.Equal(t, wire.CodeFeatExclude, code)
	code, _ = o.Allowed(r, pat)
	assert.Equal(t, wire.CodeFeatExclude, code)
}

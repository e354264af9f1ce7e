package lmstat

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFeatureHeader(t *testing.T) {
	tests := []struct {
		name string
		in   Feature
		want string
	}{
		{"both plural", Feature{Name: "f", Issued: 10, InUse: 2}, "Users of f:  (Total of 10 licenses issued;  Total of 2 licenses in use)"},
		{"issued singular", Feature{Name: "f", Issued: 1, InUse: 0}, "Users of f:  (Total of 1 license issued;  Total of 0 licenses in use)"},
		{"in use singular", Feature{Name: "f", Issued: 21, InUse: 1}, "Users of f:  (Total of 21 licenses issued;  Total of 1 license in use)"},
		{"both singular", Feature{Name: "f", Issued: 1, InUse: 1}, "Users of f:  (Total of 1 license issued;  Total of 1 license in use)"},
		{"zero issued", Feature{Name: "f"}, "Users of f:  (Total of 0 licenses issued;  Total of 0 licenses in use)"},
		{"uncounted", Feature{Name: "SERIAL", Uncounted: true, InUse: 1}, "Users of SERIAL:  (Uncounted, node-locked)"},
		{"error keeps plural", Feature{Name: "SUB", Issued: 1, Err: "unsupported by licensed server"}, "Users of SUB:  (Error: 1 licenses, unsupported by licensed server)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendFeatureHeader(nil, &tt.in)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDates(t *testing.T) {
	tests := []struct {
		in        time.Time
		wantDate  string
		wantStart string
	}{
		{time.Date(2025, 2, 10, 11, 26, 0, 0, time.UTC), "Mon 2/10/2025 11:26", "Mon 2/10 11:26"},
		{time.Date(2018, 5, 15, 13, 41, 59, 0, time.UTC), "Tue 5/15/2018 13:41", "Tue 5/15 13:41"},
		{time.Date(2021, 3, 1, 9, 2, 0, 0, time.UTC), "Mon 3/1/2021 9:02", "Mon 3/1 9:02"},
		{time.Date(2017, 10, 20, 0, 0, 0, 0, time.UTC), "Fri 10/20/2017 0:00", "Fri 10/20 0:00"},
		{time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), "Thu 12/31/2026 23:59", "Thu 12/31 23:59"},
		// Printed in the time's own location, not UTC.
		{time.Date(2025, 1, 1, 1, 5, 0, 0, time.FixedZone("X", -2*3600)), "Wed 1/1/2025 1:05", "Wed 1/1 1:05"},
	}
	for _, tt := range tests {
		t.Run(tt.wantDate, func(t *testing.T) {
			if got := string(appendDate(nil, tt.in)); got != tt.wantDate {
				t.Errorf("date: got %q, want %q", got, tt.wantDate)
			}
			if got := string(appendStart(nil, tt.in)); got != tt.wantStart {
				t.Errorf("start: got %q, want %q", got, tt.wantStart)
			}
		})
	}
}

func TestHolderLine(t *testing.T) {
	r := &Report{
		Servers:    []Server{{Host: "h1", Port: 27100}, {Host: "h2", Port: 27101, Master: true}},
		VendorHost: "h2",
	}
	start := time.Date(2017, 10, 20, 16, 4, 0, 0, time.UTC)
	base := Holder{User: "user1", Host: "server9", Display: "/dev/tty", Version: "61.9", Server: "h1", Port: 27100, Handle: 18856, Start: start}
	with := func(f func(*Holder)) Holder { h := base; f(&h); return h }
	tests := []struct {
		name    string
		in      Holder
		showPID bool
		want    string
	}{
		{"count zero", base, false, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04"},
		{"count one", with(func(h *Holder) { h.Count = 1 }), false, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04"},
		{"count two", with(func(h *Holder) { h.Count = 2 }), false, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04, 2 licenses"},
		{"count sixteen", with(func(h *Holder) { h.Count = 16 }), false, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04, 16 licenses"},
		{"pid hidden by default", with(func(h *Holder) { h.PID = 77 }), false, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04"},
		{"pid shown", with(func(h *Holder) { h.PID = 77 }), true, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04, PID: 77"},
		{"count and pid", with(func(h *Holder) { h.PID = 77; h.Count = 3 }), true, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04, 3 licenses, PID: 77"},
		{"no pid to show", base, true, "    user1 server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04"},
		{"no display", with(func(h *Holder) { h.Display = "" }), false, "    user1 server9 (v61.9) (h1/27100 18856), start Fri 10/20 16:04"},
		{"version with v", with(func(h *Holder) { h.Version = "v2017.06" }), false, "    user1 server9 /dev/tty (v2017.06) (h1/27100 18856), start Fri 10/20 16:04"},
		{"server defaults to master", with(func(h *Holder) { h.Server = ""; h.Port = 0 }), false, "    user1 server9 /dev/tty (v61.9) (h2/27101 18856), start Fri 10/20 16:04"},
		{"user with spaces", with(func(h *Holder) { h.User = "John Doe" }), false, "    John Doe server9 /dev/tty (v61.9) (h1/27100 18856), start Fri 10/20 16:04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendHolder(nil, r, &tt.in, Options{ShowPID: tt.showPID})); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLicenseType(t *testing.T) {
	tests := []struct {
		name string
		in   Pool
		want string
	}{
		{"floating", Pool{}, "  floating license"},
		{"nodelocked", Pool{NodeLocked: "ID=XXXXXX"}, `  nodelocked license, locked to "ID=XXXXXX"`},
		{"uncounted anywhere", Pool{Uncounted: true}, "  uncounted nodelocked license locked to NOTHING (hostid=ANY)"},
		{"uncounted ANY", Pool{Uncounted: true, NodeLocked: "ANY"}, "  uncounted nodelocked license locked to NOTHING (hostid=ANY)"},
		{"uncounted locked", Pool{Uncounted: true, NodeLocked: "001122aabbcc"}, `  uncounted nodelocked license, locked to "001122aabbcc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := licenseType(&tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBannerLines(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"lmutil", CopyrightLine("lmutil", 2025), "lmutil - Copyright (c) 1989-2025 lmtriad authors. All Rights Reserved."},
		{"default", CopyrightLine("", 2026), "lmutil - Copyright (c) 1989-2026 lmtriad authors. All Rights Reserved."},
		{"lmstat", CopyrightLine("lmstat", 2025), "lmstat - Copyright (c) 1989-2025 lmtriad authors. All Rights Reserved."},
		{"version", VersionBanner("lmstat", "0.1.0"), "lmstat v0.1.0 build " + Build + " " + Platform},
		{"version with v", VersionBanner("lmstat", "v0.1.0"), "lmstat v0.1.0 build " + Build + " " + Platform},
		{"linux/amd64", platformName("linux", "amd64"), "x64_lsb"},
		{"windows/amd64", platformName("windows", "amd64"), "x64_n6"},
		{"unnamed target", platformName("linux", "arm64"), "arm64_linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestVendorAlignment: names right-aligned in 10 columns as in the samples
// ("       MLM", "   snpslmd", "  LMCOMSOL"), widened for long names.
func TestVendorAlignment(t *testing.T) {
	tests := []struct {
		names []string
		want  []string
	}{
		{[]string{"MLM"}, []string{"       MLM: UP v1"}},
		{[]string{"snpslmd", "LMCOMSOL"}, []string{"   snpslmd: UP v1", "  LMCOMSOL: UP v1"}},
		{[]string{"a", "averylongvendor"}, []string{"                a: UP v1", "  averylongvendor: UP v1"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			r := Report{Now: now}
			for _, n := range tt.names {
				r.Vendors = append(r.Vendors, Vendor{Name: n, Up: true, Version: "1"})
			}
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, r, Options{}))
			lines := strings.Split(buf.String(), "\n")
			i := 0
			for lines[i] != "Vendor daemon status (on ):" {
				i++
			}
			assert.Equal(t, tt.want, lines[i+2:i+2+len(tt.want)])
		})
	}
}

// TestFeatureFilterUnknown: -f with a feature the server does not have
// prints the banner only.
func TestFeatureFilterUnknown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, busyReport(), Options{FeatureSet: true, Feature: "nosuch"}))
	assert.Equal(t, CopyrightLine("", 2025)+"\nFlexible License Manager status on Mon 2/3/2025 9:05\n\n", buf.String())
}

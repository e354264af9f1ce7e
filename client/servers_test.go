package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// writeLicense writes a license file whose SERVER line names f.
func writeLicense(t *testing.T, dir string, f *fakeServer) string {
	t.Helper()
	path := filepath.Join(dir, "demo.lic")
	text := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nVENDOR demo\nFEATURE f demo 1.0 permanent 2 SIGN=\"0\"\n", f.port)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSearchPath(t *testing.T) {
	a := startFake(t, fakeConfig{})
	b := startFake(t, fakeConfig{})
	noFeature := startFake(t, fakeConfig{Pools: []licfile.Pool{{Key: "o", Name: "other", Vendor: "demo", Version: "1.0", Count: 2}}})
	full := startFake(t, fakeConfig{Pools: []licfile.Pool{{Key: "k", Name: "f", Vendor: "demo", Version: "1.0", Count: 1}}})
	full.holdFor("bob", "f", 1)
	refused := closedPort(t)
	fileB := writeLicense(t, t.TempDir(), b)
	dirB := filepath.Dir(writeLicense(t, t.TempDir(), b))

	tests := []struct {
		name    string
		path    string            // Options.LicensePath
		env     map[string]string // what Getenv sees
		want    *fakeServer       // the server that grants the license
		wantErr error             // or the error, by errors.Is
	}{
		{name: "LicensePath beats the environment", path: a.portAtHost(),
			env: map[string]string{"DEMO_LICENSE_FILE": b.portAtHost(), "LM_LICENSE_FILE": b.portAtHost()}, want: a},
		{name: "DEMO_LICENSE_FILE before LM_LICENSE_FILE",
			env: map[string]string{"DEMO_LICENSE_FILE": a.portAtHost(), "LM_LICENSE_FILE": b.portAtHost()}, want: a},
		{name: "LM_LICENSE_FILE alone", env: map[string]string{"LM_LICENSE_FILE": b.portAtHost()}, want: b},
		{name: "vendor variable refused, LM_LICENSE_FILE next",
			env: map[string]string{"DEMO_LICENSE_FILE": refused, "LM_LICENSE_FILE": b.portAtHost()}, want: b},
		{name: "license file: its SERVER line", path: fileB, want: b},
		{name: "directory: its license files", path: dirB, want: b},
		{name: "entries in order", path: a.portAtHost() + ":" + b.portAtHost(), want: a},
		{name: "refused entry, next one", path: refused + ":" + a.portAtHost(), want: a},
		{name: "missing file, next entry", path: filepath.Join(t.TempDir(), "none.lic") + ":" + a.portAtHost(), want: a},
		{name: "no such feature at the first entry, next one", path: noFeature.portAtHost() + ":" + a.portAtHost(), want: a},
		{name: "all in use at the first entry, next one", path: full.portAtHost() + ":" + b.portAtHost(), want: b},
		{name: "all deny: the first denial (-5)", path: noFeature.portAtHost() + ":" + full.portAtHost(), wantErr: wire.ErrNoFeature},
		{name: "all deny: the first denial (-4)", path: full.portAtHost() + ":" + noFeature.portAtHost(), wantErr: wire.ErrMaxUsers},
		{name: "denial beats a later refusal", path: full.portAtHost() + ":" + refused, wantErr: wire.ErrMaxUsers},
		{name: "only refused", path: refused, wantErr: wire.ErrCantConnect},
		{name: "no path at all", wantErr: wire.ErrNoConfFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t, tt.path)
			opts.Getenv = func(k string) string { return tt.env[k] }
			c := newClient(t, opts)
			lic, err := c.Checkout(context.Background(), "f", "1.0", 1)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Checkout: got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Checkout: %v", err)
			}
			defer lic.Checkin()
			if got, want := lic.Server(), tt.want.portAtHost(); got != want {
				t.Errorf("Server() = %s, want %s", got, want)
			}
			if !lic.Held() || lic.Handle() == 0 || lic.GrantedVersion() != "1.0" {
				t.Errorf("Held() = %v, Handle() = %d, GrantedVersion() = %q; want true, non-zero, 1.0",
					lic.Held(), lic.Handle(), lic.GrantedVersion())
			}
		})
	}
}

// TestDialOrder checks which addresses are dialled for an entry, through
// an Options.Dial that refuses everything.
func TestDialOrder(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"27005@h1", []string{"h1:27005"}},
		{"@h1", []string{"h1:27000", "h1:27001", "h1:27002", "h1:27003", "h1:27004",
			"h1:27005", "h1:27006", "h1:27007", "h1:27008", "h1:27009"}},
		{"1@h1,2@h2,3@h3", []string{"h1:1", "h2:2", "h3:3"}},
		{"1@h1:2@h2", []string{"h1:1", "h2:2"}},
		{"1@h1;1@h1", []string{"h1:1"}}, // a repeated entry is tried once
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			opts := testOptions(t, tt.path)
			opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				got = append(got, addr)
				mu.Unlock()
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			c := newClient(t, opts)
			_, err := c.Checkout(context.Background(), "f", "1.0", 1)
			if !errors.Is(err, wire.ErrCantConnect) {
				t.Errorf("Checkout: got error %v, want %v", err, wire.ErrCantConnect)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, tt.want) {
				t.Errorf("dialled %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDialTimeout: a server that swallows the connection attempt costs
// DialTimeout, not the caller's whole deadline; the next entry is used.
func TestDialTimeout(t *testing.T) {
	a := startFake(t, fakeConfig{})
	const blackhole = "192.0.2.1:27000" // TEST-NET-1; never actually dialled
	var mu sync.Mutex
	var budget time.Duration
	opts := testOptions(t, "27000@192.0.2.1:"+a.portAtHost())
	opts.DialTimeout = 20 * time.Millisecond
	var d net.Dialer
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != blackhole {
			return d.DialContext(ctx, network, addr)
		}
		dl, ok := ctx.Deadline()
		mu.Lock()
		budget = time.Until(dl)
		if !ok {
			budget = -1
		}
		mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c := newClient(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lic, err := c.Checkout(ctx, "f", "1.0", 1)
	if err != nil {
		t.Fatalf("Checkout: %v", err)
	}
	defer lic.Checkin()
	if got, want := lic.Server(), a.portAtHost(); got != want {
		t.Errorf("Server() = %s, want %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if budget < 0 || budget > opts.DialTimeout {
		t.Errorf("the blackholed dial had %v to go, want at most DialTimeout = %v", budget, opts.DialTimeout)
	}
}

// TestTriadRedirect: a member that is not the master answers HELLO with
// -20 or -23 and master=; the client goes there next.
func TestTriadRedirect(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		master bool // whether the first member names the third
		want   int  // index of the member that grants
	}{
		{"busy, master named", wire.CodeServBusy, true, 2},
		{"new server connecting, master named", wire.CodeBusyNewServ, true, 2},
		{"busy, no master known", wire.CodeServBusy, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var members [3]*fakeServer
			members[1] = startFake(t, fakeConfig{})
			members[2] = startFake(t, fakeConfig{})
			members[0] = startFake(t, fakeConfig{Hello: func(wire.Message) (wire.Message, bool) {
				m := wire.NewError(tt.code, 1).Message()
				if tt.master {
					m.Set("master", members[2].portAtHost())
				}
				return m, true
			}})
			path := members[0].portAtHost() + "," + members[1].portAtHost() + "," + members[2].portAtHost()
			c := newClient(t, testOptions(t, path))
			lic := checkout(t, c, "f", 1)
			defer lic.Checkin()
			if got, want := lic.Server(), members[tt.want].portAtHost(); got != want {
				t.Errorf("Server() = %s, want member %d, %s", got, tt.want, want)
			}
			for i, m := range members {
				if got, want := m.count("HELLO"), btoi(i <= tt.want && (i != 1 || tt.want == 1)); got != want {
					t.Errorf("member %d got %d HELLOs, want %d", i, got, want)
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

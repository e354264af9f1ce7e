package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"localhost", func(c *Config) { c.Server = "27000@localhost" }, ""},
		{"not loopback", func(c *Config) { c.Server = "27000@10.0.0.1" }, "only loopback"},
		{"a host name", func(c *Config) { c.Server = "27000@licsrv" }, "only loopback"},
		{"no port", func(c *Config) { c.Server = "127.0.0.1" }, "port@host"},
		{"bad mode", func(c *Config) { c.Mode = "storm" }, "unknown mode"},
		{"no workers", func(c *Config) { c.Concurrency = 0 }, "concurrency"},
		{"hold without clients", func(c *Config) { c.Mode, c.Clients = ModeHold, 0 }, "clients"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func smokeConfig(srv *fakeServer, mode string) (Config, *bytes.Buffer) {
	var out bytes.Buffer
	cfg := NewConfig()
	cfg.Mode = mode
	cfg.Server = srv.server()
	cfg.Out = &out
	cfg.PIDs = []int{os.Getpid()} // the fake server lives in this process
	cfg.Settle = 10 * time.Millisecond
	cfg.Timeout = time.Minute
	return cfg, &out
}

// TestChurnSmoke runs a short churn against an in-process server.
func TestChurnSmoke(t *testing.T) {
	srv := startFake(t, 100)
	cfg, out := smokeConfig(srv, ModeChurn)
	cfg.Concurrency = 4
	cfg.Duration = 200 * time.Millisecond
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if rep.Pairs == 0 || rep.Pair.N != int(rep.Pairs) || rep.Checkout.P50 <= 0 || rep.Checkout.P50 > rep.Pair.P999 {
		t.Errorf("implausible report: %+v", rep)
	}
	if !strings.Contains(out.String(), "RESULT mode=churn workers=4 ") {
		t.Errorf("no RESULT line in:\n%s", out)
	}
	if n := srv.holders(); n != 0 {
		t.Errorf("%d licenses still held after the run", n)
	}
	t.Log(out)
}

// TestChurnPaced paces 4 workers to 200 pairs/s.
func TestChurnPaced(t *testing.T) {
	srv := startFake(t, 100)
	cfg, out := smokeConfig(srv, ModeChurn)
	cfg.Concurrency = 4
	cfg.Duration = 500 * time.Millisecond
	cfg.Rate = 200
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	// 100 pairs are due; allow for a slow CI machine, not for no pacing.
	if rep.Pairs < 20 || rep.Pairs > 110 {
		t.Errorf("%d pairs in 500 ms at 200/s, want about 100", rep.Pairs)
	}
}

// TestHoldSmoke connects a few holders, heartbeating, and checks the
// server's count; then all are released.
func TestHoldSmoke(t *testing.T) {
	srv := startFake(t, 100)
	cfg, out := smokeConfig(srv, ModeHold)
	cfg.Clients = 20
	cfg.ConnectConcurrency = 4
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.Hold = 100 * time.Millisecond
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if rep.Holders != 20 || rep.StatusInUse != 20 || rep.Connect.N != 20 {
		t.Errorf("holders %d, server in use %d, latencies %d; want 20 each", rep.Holders, rep.StatusInUse, rep.Connect.N)
	}
	if rep.Loaded.FDs <= 0 || rep.Loaded.RSSKiB <= 0 {
		t.Errorf("no /proc figures: %+v", rep.Loaded)
	}
	if n := srv.holders(); n != 0 {
		t.Errorf("%d licenses still held after the run", n)
	}
}

// TestHoldDenied reports the clients the server turned away.
func TestHoldDenied(t *testing.T) {
	srv := startFake(t, 3)
	cfg, out := smokeConfig(srv, ModeHold)
	cfg.Clients = 5
	rep, err := Run(context.Background(), cfg)
	if err == nil || rep.Errors != 2 || rep.Holders != 3 {
		t.Fatalf("err %v, %d errors, %d holders; want 2 errors and 3 holders\n%s", err, rep.Errors, rep.Holders, out)
	}
	if !strings.Contains(out.String(), "Licensed number of users already reached") {
		t.Errorf("the denial is not reported:\n%s", out)
	}
}

func TestLmstatTotals(t *testing.T) {
	out := `lmstat - Copyright (c) 1989-2024 Flexera. All Rights Reserved.
Users of other:  (Total of 4 licenses issued;  Total of 1 license in use)

    lg000001 lghost000001 /dev/pts/1 (v1.0) (127.0.0.1/27000 3), start Sun 11/23 2:39

Users of bench:  (Total of 200000 licenses issued;  Total of 2 licenses in use)

  "bench" v1.0, vendor: demo, expiry: permanent(no expiration date)
  floating license

    lg000000 lghost000000 /dev/pts/0 (v1.0) (127.0.0.1/27000 1), start Sun 11/23 2:39
    alice ws1 /dev/pts/0 (v1.0) (127.0.0.1/27000 2), start Sun 11/23 2:39

`
	inuse, lines, err := lmstatTotals([]byte(out), "bench", "lg")
	if err != nil || inuse != 2 || lines != 2 {
		t.Errorf("got %d in use, %d lines, %v; want 2, 2, nil", inuse, lines, err)
	}
	if _, _, err := lmstatTotals([]byte(out), "missing", "lg"); err == nil {
		t.Error("a missing feature gave no error")
	}
}

func TestApp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := newApp(&stdout, &stderr).Run([]string{"loadgen", "-mode", "churn", "-c", "27000@192.0.2.1"})
	if err == nil || !strings.Contains(err.Error(), "only loopback") {
		t.Errorf("got %v, want the loopback refusal", err)
	}
}

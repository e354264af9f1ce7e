package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// dialFrom greets lmgrd at addr as a client of vendor demo from source
// address ip (any 127.0.0.x is this machine's loopback).
func dialFrom(c context.Context, ip, addr, user string) (*wire.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, _, err := wire.Dial(c, &d, addr, wire.Hello("vendor", "demo", "user", user, "host", ip, "display", "/dev/null"), 10*time.Second)
	return conn, err
}

// TestOneHostCannotTakeEverySlot: with -max-connections 8 a host gets half
// of them. One host floods idle greeted connections: past its share it is
// answered -106, and another host still checks out; both refusals and the
// share are in the log with the flooding peer's address.
func TestOneHostCannotTakeEverySlot(t *testing.T) {
	needBinaries(t)
	const limit, share = 8, 4
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, "FEATURE solver demo 1.0 permanent 10 SIGN=0\n")
	p := startLmgrd(t, "-c", lic, "-max-connections", fmt.Sprint(limit))
	p.waitLog(t, "Serving features for the following vendor: demo")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	budget, _ := clientBudget(t, p)
	require.Equal(t, limit, budget)

	var flood []*wire.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	var refusal error
	for i := 0; i < 3*limit && refusal == nil; i++ { // bounded: the share ends it first
		c, err := dialFrom(ctx(t), "127.0.0.2", addr, fmt.Sprintf("flood%d", i))
		if err != nil {
			refusal = err
			break
		}
		flood = append(flood, c)
	}
	assert.Len(t, flood, share, "the flooding host holds its share, no more")
	assert.ErrorIs(t, refusal, wire.ErrServerMaxedOut, "past its share: -106")
	_, err := dialFrom(ctx(t), "127.0.0.2", addr, "again")
	assert.ErrorIs(t, err, wire.ErrServerMaxedOut, "and again")

	// Another host gets in and checks out while the flood holds on.
	other, err := dialFrom(ctx(t), "127.0.0.3", addr, "other")
	require.NoError(t, err, "another host gets in")
	defer other.Close()
	resp, _, err := other.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver"))
	require.NoError(t, err, "another host checks out")
	_, _, err = other.Call(ctx(t), wire.New("CHECKIN", "handle", resp.Get("handle")))
	require.NoError(t, err)

	// The flood's connections are alive (idle is not abuse) and, once one
	// goes, its slot is the host's again.
	_, _, err = flood[0].Call(ctx(t), wire.New("HEARTBEAT"))
	require.NoError(t, err, "an idle greeted connection within the share is served")
	flood[0].Close()
	var back *wire.Conn
	require.Eventually(t, func() bool {
		c, err := dialFrom(ctx(t), "127.0.0.2", addr, "back")
		if err != nil {
			return false
		}
		back = c
		return true
	}, 10*time.Second, 20*time.Millisecond, "a slot freed is the host's again")
	back.Close()

	require.Eventually(t, func() bool {
		return strings.Contains(p.log.String(), "peer: 127.0.0.2:")
	},
		5*time.Second, 20*time.Millisecond, "the refusal is logged with the peer's address:\n%s", p.log)
	assert.Contains(t, p.log.String(), "host 127.0.0.2 holds its share of 4 client connections")
}

// TestSlowSendersAreCutInSeconds: a greeting trickled to lmgrd, and a
// request line left unfinished after a handed-over greeting, are cut
// within seconds; a healthy client idle longer than that between complete
// lines is not.
func TestSlowSendersAreCutInSeconds(t *testing.T) {
	needBinaries(t)
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, "FEATURE solver demo 1.0 permanent 10 SIGN=0\n")
	p := startLmgrdVia(t, nil, "2m", "-c", lic) // a client timeout longer than the test
	p.waitLog(t, "Serving features for the following vendor: demo")
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	idle, err := dialFrom(ctx(t), "127.0.0.3", addr, "idle")
	require.NoError(t, err)
	defer idle.Close()

	// cut sends what, never the rest of its line, and reports how long
	// until the server closed the connection (bounded at 30 s).
	cut := func(ip string, greet bool, what string) (time.Duration, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return 0, err
		}
		r := wire.NewReader(c)
		if greet {
			if err := wire.NewWriter(c).WriteMessage(wire.Hello("vendor", "demo", "user", "slow", "host", ip)); err != nil {
				return 0, err
			}
			m, err := r.ReadMessage()
			if err != nil || !wire.IsOK(m) {
				return 0, fmt.Errorf("greeting: %v %v", m, err)
			}
		}
		start := time.Now()
		if _, err := io.WriteString(c, what); err != nil {
			return 0, err
		}
		for { // replies to nothing; ends at the close or the deadline
			if _, err := r.ReadMessage(); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
					return time.Since(start), nil
				}
				return time.Since(start), err
			}
		}
	}
	type result struct {
		took time.Duration
		err  error
	}
	greeting, line := make(chan result, 1), make(chan result, 1)
	go func() { took, err := cut("127.0.0.4", false, "HELLO proto=1 vend"); greeting <- result{took, err} }()
	go func() { took, err := cut("127.0.0.5", true, "HEARTBE"); line <- result{took, err} }()
	g, l := <-greeting, <-line
	require.NoError(t, g.err, "a slow greeting is closed")
	require.NoError(t, l.err, "a slow request line is closed")
	t.Logf("slow greeting cut after %v, slow line after %v", g.took.Round(time.Millisecond), l.took.Round(time.Millisecond))
	assert.Less(t, g.took, 15*time.Second, "the greeting's deadline (10 s)")
	assert.Less(t, l.took, 10*time.Second, "the line's deadline (5 s)")

	// The idle client, silent all this while, is served.
	_, _, err = idle.Call(ctx(t), wire.New("HEARTBEAT"))
	require.NoError(t, err, "an idle client between complete lines is not cut")

	require.Eventually(t, func() bool {
		log := p.log.String()
		return strings.Contains(log, "127.0.0.4:") && strings.Contains(log, "127.0.0.5:")
	}, 5*time.Second, 20*time.Millisecond, "both cuts are logged with the peer's address:\n%s", p.log)
	assert.Contains(t, p.log.String(), "greeting not completed within")
	assert.Contains(t, p.log.String(), "Closed a connection whose request line did not come in time")
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

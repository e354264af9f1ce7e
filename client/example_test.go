package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

func Example() {
	// A vendor daemon "demo" serving one license of "solver", in this
	// process so that the example runs. Programs find the real one
	// through DEMO_LICENSE_FILE or LM_LICENSE_FILE.
	path, stop := startDemoServer(1)
	defer stop()

	c, err := client.New(client.Options{Vendor: "demo", LicensePath: path})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // checks in whatever is still held

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lic, err := c.Checkout(ctx, "solver", "1.0", 1)
	if err != nil {
		log.Fatal(err) // e.g. "Licensed number of users already reached. (-4,342)"
	}

	// The client heartbeats and, if the server goes away, checks the
	// license out again by itself. Events says how that goes.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range lic.Events() { // closed by Checkin
			switch ev.Kind {
			case client.Lost:
				log.Printf("solver license lost (%v), reconnecting", ev.Err)
			case client.Regained:
				log.Print("solver license regained")
			case client.Failed:
				log.Printf("solver license gone: %v", ev.Err) // stop using the feature
			}
		}
	}()

	fmt.Println("checked out", lic.Feature, "version", lic.GrantedVersion(), "held", lic.Held())
	// ... use the solver ...
	if err := lic.Checkin(); err != nil {
		log.Print(err)
	}
	<-done
	fmt.Println("held", lic.Held())
	// Output:
	// checked out solver version 1.0 held true
	// held false
}

func ExampleClient_Checkout() {
	path, stop := startDemoServer(1) // one license of solver
	defer stop()

	c, err := client.New(client.Options{Vendor: "demo", LicensePath: path})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	first, err := c.Checkout(ctx, "solver", "1.0", 1)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Checkin()

	// Denials are *wire.Error values carrying FlexLM's code and text.
	_, err = c.Checkout(ctx, "solver", "1.0", 1)
	fmt.Println(err)
	fmt.Println("all in use:", errors.Is(err, wire.ErrMaxUsers))
	var we *wire.Error
	if errors.As(err, &we) {
		fmt.Println("code", we.Code)
	}
	_, err = c.Checkout(ctx, "mesher", "1.0", 1)
	fmt.Println("no such feature:", errors.Is(err, wire.ErrNoFeature))
	// Output:
	// Licensed number of users already reached. (-4,342)
	// all in use: true
	// code -4
	// no such feature: true
}

// startDemoServer runs a minimal vendor daemon "demo" on 127.0.0.1 that
// serves count licenses of solver 1.0 from the real pool. It returns the
// server as a license search path (port@host) and a function to stop it.
func startDemoServer(count int) (path string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		sessions uint64
		p        = pool.New([]licfile.Pool{{Key: "solver", Name: "solver", Vendor: "demo", Version: "1.0", Count: count}}, pool.Options{})
	)
	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			sessions++
			sess := sessions
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := pool.Client{Session: sess}
				_ = wire.Serve(ctx, conn, wire.ServeOptions{}, wire.HandlerFunc(func(req wire.Message) (wire.Message, []wire.Message, bool) {
					mu.Lock()
					defer mu.Unlock()
					switch req.Verb {
					case "HELLO":
						who.User, who.Host, who.Display = req.Get("user"), req.Get("host"), req.Get("display")
						who.PID, _ = strconv.Atoi(req.Get("pid"))
						return wire.OK("proto", "1", "server", "demo/example", "host", "127.0.0.1", "vendor", "demo"), nil, false
					case "CHECKOUT":
						n, _ := req.Int("count")
						h, _, err := p.Checkout(pool.CheckoutRequest{Client: who, Feature: req.Get("feature"), Version: req.Get("version"), Count: n}, time.Now())
						var d *pool.Denial
						if errors.As(err, &d) {
							return wire.NewError(d.Code, 342).Message(), nil, false
						}
						return wire.OK("handle", strconv.FormatUint(h.Handle, 10), "version", h.PoolVersion, "count", strconv.Itoa(h.Count), "expiry", "permanent"), nil, false
					case "CHECKIN":
						h, _ := req.Uint64("handle")
						if _, err := p.Checkin(sess, h, time.Now()); err != nil {
							return wire.NewError(wire.CodeNeverCheckout, 1).Message(), nil, false
						}
						return wire.OK(), nil, false
					case "HEARTBEAT":
						p.Heartbeat(sess, time.Now())
						return wire.OK(), nil, false
					}
					return wire.NewError(wire.CodeNoServSupp, 904).Message(), nil, false
				}))
				mu.Lock()
				p.CloseSession(sess, time.Now())
				mu.Unlock()
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return strconv.Itoa(port) + "@127.0.0.1", func() {
		ln.Close()
		cancel()
		wg.Wait()
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

// The benchmarks here measure the protocol+pool path without processes:
// an in-process wire.Serve with the pool behind one mutex (fakeServer), over
// loopback TCP. Against the real lmgrd+vendord, scripts/bench-load.

// BenchmarkLoopbackPair is one checkout+checkin through the client library,
// from GOMAXPROCS*4 parallel clients, each with its own connection.
func BenchmarkLoopbackPair(b *testing.B) {
	srv := startFake(b, 1<<20)
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(n.Add(1))
		c, err := client.New(client.Options{Vendor: "demo", LicensePath: srv.server(), Getenv: func(string) string { return "" },
			User: "u" + strconv.Itoa(i), Host: "h" + strconv.Itoa(i), PID: i})
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		ctx := context.Background()
		for pb.Next() {
			lic, err := c.Checkout(ctx, "bench", "1.0", 1)
			if err != nil {
				b.Error(err)
				return
			}
			if err := lic.Checkin(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkLoopbackPairWire is the same over bare wire.Conn: the server's
// path plus the kernel, without the client library's goroutines.
func BenchmarkLoopbackPairWire(b *testing.B) {
	srv := startFake(b, 1<<20)
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(n.Add(1))
		c, err := dialWire(srv, i)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		ctx := context.Background()
		co := wire.New("CHECKOUT", "feature", "bench", "version", "1.0", "count", "1")
		for pb.Next() {
			resp, _, err := c.Call(ctx, co)
			if err != nil {
				b.Error(err)
				return
			}
			if _, _, err := c.Call(ctx, wire.New("CHECKIN", "handle", resp.Get("handle"))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

func dialWire(srv *fakeServer, i int) (*wire.Conn, error) {
	nc, err := net.Dial("tcp", srv.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	c := wire.NewConn(nc)
	hello := wire.New("HELLO", "proto", "1", "vendor", "demo", "role", "client",
		"user", "u"+strconv.Itoa(i), "host", "h"+strconv.Itoa(i), "display", ":0", "pid", strconv.Itoa(i))
	if _, _, err := c.Call(context.Background(), hello); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// BenchmarkIdleConnMemory holds 2,000 connections, each greeted and holding
// one license, and reports the server's Go memory per connection (heap in
// use plus goroutine stacks, after a GC). The clients are bare sockets
// without buffers or goroutines, so nearly all of it is the server's:
// wire.Serve's buffers and goroutine, the session and the pool's holder.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 2000
	for b.Loop() {
		srv := startFake(b, conns)
		before, bs := memInUse()
		var socks []net.Conn
		for i := range conns {
			c, err := net.Dial("tcp", srv.ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			socks = append(socks, c)
			fmt.Fprintf(c, "HELLO proto=1 vendor=demo role=client user=u%d host=h%d display=:0 pid=%d\nCHECKOUT feature=bench version=1.0 count=1\n", i, i, i)
		}
		buf := make([]byte, 512)
		for _, c := range socks {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := 0
			for got < 2 {
				n, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got += bytes.Count(buf[:n], []byte{'\n'})
			}
		}
		if h := srv.holders(); h != conns {
			b.Fatalf("%d holders, want %d", h, conns)
		}
		after, as := memInUse()
		b.ReportMetric(float64(after-before)/conns, "B/conn")
		b.ReportMetric(float64(as-bs)/conns, "stackB/conn")
		for _, c := range socks {
			c.Close()
		}
		srv.close()
	}
}

// memInUse is heap in use plus stacks, and stacks alone.
func memInUse() (uint64, uint64) {
	for range 6 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, m.StackInuse
}

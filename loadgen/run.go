package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

// Report is the outcome of a run; Run prints it as well.
type Report struct {
	Mode string

	// hold and lmstat
	Holders      int           // licenses held at the peak
	ConnectTime  time.Duration // all holders connected and checked out
	Connect      Summary       // one holder's dial+HELLO+CHECKOUT
	Baseline     Sample        // the server before any client
	Loaded       Sample        // the server with every holder in
	AfterHold    Sample        // the server after Config.Hold
	HoldCPUCores float64       // server CPU over Config.Hold, in cores
	StatusInUse  int           // the server's inuse count, asked over the wire

	// churn
	Pairs       int64
	Elapsed     time.Duration
	PairsPerSec float64
	Checkout    Summary
	Pair        Summary
	ServerCores float64 // server CPU during the churn, in cores
	GenCores    float64 // loadgen's own CPU during the churn, in cores
	Late        int64   // paced pairs started over 1 ms behind schedule

	// lmstat
	Lmstat       Summary // wall time of lmutil lmstat -a
	Status       Summary // one STATUS exchange, in process
	LmstatInUse  int     // "Total of N licenses in use" of Config.Feature
	LmstatLines  int     // holder lines of loadgen's users
	GeneratorRSS int64   // KiB

	Errors    int64
	FirstErrs []string
}

// Run performs cfg's run and prints its report to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	g := &gen{cfg: cfg, proc: procFS{Root: "/proc"}, rep: &Report{Mode: cfg.Mode}}
	g.addr, _ = cfg.addr()
	pids, err := g.proc.serverPIDs(cfg.LmgrdPID, cfg.PIDs)
	if err != nil {
		return nil, fmt.Errorf("loadgen: server processes: %w", err)
	}
	g.pids = pids
	switch cfg.Mode {
	case ModeChurn:
		err = g.churn(ctx)
	default:
		err = g.hold(ctx)
	}
	g.print()
	if err == nil && g.rep.Errors > 0 {
		err = fmt.Errorf("loadgen: %d requests failed", g.rep.Errors)
	}
	return g.rep, err
}

type gen struct {
	cfg  Config
	addr string
	proc procFS
	pids []int
	rep  *Report

	errMu sync.Mutex
}

func (g *gen) fail(err error) {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	g.rep.Errors++
	if len(g.rep.FirstErrs) < 5 {
		g.rep.FirstErrs = append(g.rep.FirstErrs, err.Error())
	}
}

// newClient is simulated client i: its own Client, hence its own
// connection, with a user, host and display of its own.
func (g *gen) newClient(i int) (*client.Client, error) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%g.cfg.SourceIPs))}
	d := net.Dialer{LocalAddr: local}
	if g.cfg.SourceIPs == 1 {
		d.LocalAddr = nil
	}
	return client.New(client.Options{
		Vendor:            g.cfg.Vendor,
		LicensePath:       g.cfg.Server,
		Getenv:            func(string) string { return "" },
		User:              fmt.Sprintf("%s%06d", g.cfg.UserPrefix, i),
		Host:              fmt.Sprintf("%shost%06d", g.cfg.UserPrefix, i),
		Display:           "/dev/pts/" + strconv.Itoa(i%1000),
		PID:               100000 + i,
		HeartbeatInterval: g.cfg.HeartbeatInterval,
		DialTimeout:       g.cfg.DialTimeout,
		Dial:              d.DialContext,
	})
}

func (g *gen) sample() Sample {
	if len(g.pids) == 0 {
		return Sample{}
	}
	s, err := g.proc.sample(g.pids)
	if err != nil {
		g.fail(fmt.Errorf("reading /proc: %w", err))
	}
	return s
}

func (g *gen) selfCPU() int64 {
	st, err := g.proc.Stats(os.Getpid())
	if err != nil {
		return 0
	}
	return st.CPUTicks
}

func cores(ticks int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(ticks) / clockTicks / d.Seconds()
}

// holder is one simulated client holding a license.
type holder struct {
	c   *client.Client
	lic *client.License
}

// hold connects Clients holders, each checking out one license, reports the
// server's memory and descriptors, keeps them for Hold, and (lmstat mode)
// times lmstat over them.
func (g *gen) hold(ctx context.Context) error {
	cfg, rep := g.cfg, g.rep
	rep.Baseline = g.sample()
	base, err := g.statusInUse(ctx)
	if err != nil {
		return fmt.Errorf("loadgen: STATUS before the run: %w", err)
	}
	holders := make([]holder, cfg.Clients)
	lats := make([]Latencies, cfg.ConnectConcurrency)
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.ConnectConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Clients || ctx.Err() != nil {
					return
				}
				c, err := g.newClient(i)
				if err != nil {
					g.fail(err)
					continue
				}
				t0 := time.Now()
				lic, err := c.Checkout(ctx, cfg.Feature, cfg.Version, 1)
				if err != nil {
					g.fail(fmt.Errorf("client %d: %w", i, err))
					c.Close()
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
				holders[i] = holder{c, lic}
			}
		}()
	}
	wg.Wait()
	rep.ConnectTime = time.Since(start)
	rep.Connect = merge(lats).Summarize()
	for _, h := range holders {
		if h.lic != nil {
			rep.Holders++
		}
	}
	defer g.release(holders)
	if err := ctx.Err(); err != nil {
		return err
	}

	sleep(ctx, cfg.Settle)
	rep.Loaded = g.sample()
	rep.GeneratorRSS = selfRSS(g.proc)
	if cfg.Hold > 0 {
		before, t0 := g.sample(), time.Now()
		sleep(ctx, cfg.Hold)
		rep.AfterHold = g.sample()
		rep.HoldCPUCores = cores(rep.AfterHold.CPUTicks-before.CPUTicks, time.Since(t0))
		lost := 0
		for _, h := range holders {
			if h.lic != nil && !h.lic.Held() {
				lost++
			}
		}
		if lost > 0 {
			g.fail(fmt.Errorf("%d of %d licenses lost while holding", lost, rep.Holders))
		}
	}
	inuse, err := g.statusInUse(ctx)
	if err != nil {
		return fmt.Errorf("loadgen: STATUS: %w", err)
	}
	rep.StatusInUse = inuse - base
	if rep.StatusInUse != rep.Holders {
		g.fail(fmt.Errorf("server reports %d more licenses in use, want %d", rep.StatusInUse, rep.Holders))
	}
	if cfg.Mode == ModeLmstat {
		return g.lmstat(ctx, base+rep.Holders)
	}
	return nil
}

// release checks every holder's license in and closes its client, a few
// at a time.
func (g *gen) release(holders []holder) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g.cfg.ConnectConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(holders) {
					return
				}
				if h := holders[i]; h.c != nil {
					h.c.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// churn runs Concurrency workers, each a client with its own connection
// doing checkout+checkin pairs back to back for Duration.
func (g *gen) churn(ctx context.Context) error {
	cfg, rep := g.cfg, g.rep
	clients := make([]*client.Client, cfg.Concurrency)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	// Connect every worker first (one warm-up pair each), so the figures
	// are of steady state, not of connects.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.ConnectConcurrency, cfg.Concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Concurrency || ctx.Err() != nil {
					return
				}
				c, err := g.newClient(i)
				if err == nil {
					err = g.pair(ctx, c, nil, nil)
				}
				if err != nil {
					g.fail(fmt.Errorf("client %d: %w", i, err))
					continue
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}

	co := make([]Latencies, cfg.Concurrency)
	pairs := make([]Latencies, cfg.Concurrency)
	var late1ms atomic.Int64
	before, genBefore := g.sample(), g.selfCPU()
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for i, c := range clients {
		if c == nil {
			continue
		}
		co[i] = make(Latencies, 0, 1024)
		pairs[i] = make(Latencies, 0, 1024)
		// Paced workers start spread over one interval.
		var interval time.Duration
		next := start
		if cfg.Rate > 0 {
			interval = time.Duration(float64(cfg.Concurrency) / cfg.Rate * float64(time.Second))
			next = start.Add(interval * time.Duration(i) / time.Duration(cfg.Concurrency))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if interval > 0 {
					if late := time.Since(next); late < 0 {
						sleep(ctx, -late)
					} else if late > time.Millisecond {
						late1ms.Add(1)
					}
					next = next.Add(interval)
				}
				if !time.Now().Before(deadline) {
					break
				}
				if err := g.pair(ctx, c, &co[i], &pairs[i]); err != nil {
					g.fail(fmt.Errorf("client %d: %w", i, err))
					if ctx.Err() == nil {
						sleep(ctx, 10*time.Millisecond)
					}
				}
			}
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	after, genAfter := g.sample(), g.selfCPU()
	rep.ServerCores = cores(after.CPUTicks-before.CPUTicks, rep.Elapsed)
	rep.GenCores = cores(genAfter-genBefore, rep.Elapsed)
	rep.Loaded = after
	rep.GeneratorRSS = selfRSS(g.proc)
	all := merge(pairs)
	rep.Pairs = int64(len(all))
	rep.PairsPerSec = float64(rep.Pairs) / rep.Elapsed.Seconds()
	rep.Checkout = merge(co).Summarize()
	rep.Pair = all.Summarize()
	rep.Late = late1ms.Load()
	return ctx.Err()
}

// pair checks one license out and in, recording the checkout's latency in
// co and the pair's in pair when they are not nil.
func (g *gen) pair(ctx context.Context, c *client.Client, co, pair *Latencies) error {
	t0 := time.Now()
	lic, err := c.Checkout(ctx, g.cfg.Feature, g.cfg.Version, 1)
	if err != nil {
		return err
	}
	t1 := time.Now()
	if err := lic.Checkin(); err != nil {
		return err
	}
	t2 := time.Now()
	if co != nil {
		*co = append(*co, t1.Sub(t0))
		*pair = append(*pair, t2.Sub(t0))
	}
	return nil
}

// statusInUse asks the vendor daemon, through lmgrd, how many licenses of
// the feature are in use.
func (g *gen) statusInUse(ctx context.Context) (int, error) {
	resp, records, _, err := g.status(ctx)
	if err != nil {
		return 0, err
	}
	_ = resp
	for _, r := range records {
		if r.Verb == "FEATURE" && r.Get("name") == g.cfg.Feature {
			return r.Int("inuse")
		}
	}
	return 0, fmt.Errorf("no FEATURE record for %s", g.cfg.Feature)
}

// status runs one admin STATUS exchange for the feature and returns how
// long the exchange itself took (the connect and greeting excluded).
func (g *gen) status(ctx context.Context) (wire.Message, []wire.Message, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", g.addr)
	if err != nil {
		return wire.Message{}, nil, 0, err
	}
	c := wire.NewConn(nc)
	defer c.Close()
	hello := wire.New("HELLO", "proto", strconv.Itoa(wire.ProtocolVersion), "vendor", g.cfg.Vendor,
		"role", "admin", "user", "loadgen", "host", "loadgen")
	if _, _, err := c.Call(ctx, hello); err != nil {
		return wire.Message{}, nil, 0, fmt.Errorf("HELLO: %w", err)
	}
	t0 := time.Now()
	resp, recs, err := c.Call(ctx, wire.New("STATUS", "feature", g.cfg.Feature))
	return resp, recs, time.Since(t0), err
}

func selfRSS(p procFS) int64 {
	st, err := p.Stats(os.Getpid())
	if err != nil {
		return 0
	}
	return st.RSSKiB
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

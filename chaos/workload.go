package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

// WorkloadOptions configure the clients.
type WorkloadOptions struct {
	LicensePath string
	Feature     string
	Clients     int
	Seed        uint64

	// Each client loops: check out; if granted, hold for [HoldMin, HoldMax)
	// and check in, then think for [0, ThinkMax); if denied, back off for
	// [DeniedMin, DeniedMax); on an error, for [0, ErrorMax).
	HoldMin, HoldMax time.Duration
	ThinkMax         time.Duration
	// LongHold of the grants are held for [LongMin, LongMax) instead, so
	// that some holders span a failover (check b).
	LongHold             float64
	LongMin, LongMax     time.Duration
	DeniedMin, DeniedMax time.Duration
	ErrorMax             time.Duration

	// Client library settings. A client must notice a silent server
	// (HeartbeatInterval + RequestTimeout) faster than the triad fails over
	// (1.1 s at the earliest with FastTiming), or check (a) sees it believe
	// in a license the new master has given away.
	HeartbeatInterval, RequestTimeout, DialTimeout, RetryInterval time.Duration
	// OpTimeout bounds one Checkout call.
	OpTimeout time.Duration
}

// DefaultWorkload is 200 clients contending for 50 licenses.
func DefaultWorkload() WorkloadOptions {
	return WorkloadOptions{
		Feature:           Feature,
		Clients:           200,
		HoldMin:           100 * time.Millisecond,
		HoldMax:           1500 * time.Millisecond,
		ThinkMax:          300 * time.Millisecond,
		LongHold:          0.1,
		LongMin:           2 * time.Second,
		LongMax:           8 * time.Second,
		DeniedMin:         200 * time.Millisecond,
		DeniedMax:         800 * time.Millisecond,
		ErrorMax:          300 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond,
		RequestTimeout:    600 * time.Millisecond,
		DialTimeout:       300 * time.Millisecond,
		RetryInterval:     200 * time.Millisecond,
		OpTimeout:         5 * time.Second,
	}
}

// RunWorkload runs the clients until ctx is done, then lets each finish its
// operation, check in and close, and records the end. Every client has its
// own client.Client and user name u000, u001...
func RunWorkload(ctx context.Context, o WorkloadOptions, rec *Recorder) error {
	if o.Clients <= 0 || o.LicensePath == "" {
		return errors.New("workload: need clients and a license path")
	}
	var wg sync.WaitGroup
	for i := range o.Clients {
		opts := client.NewOptions()
		opts.LicensePath = o.LicensePath
		opts.User, opts.Host = fmt.Sprintf("u%03d", i), "chaos"
		opts.HeartbeatInterval = o.HeartbeatInterval
		opts.RequestTimeout = o.RequestTimeout
		opts.DialTimeout = o.DialTimeout
		opts.RetryInterval = o.RetryInterval
		c, err := client.New(opts)
		if err != nil {
			return err
		}
		w := &worker{id: i + 1, o: o, c: c, rec: rec, rnd: rand.New(rand.NewPCG(o.Seed, uint64(i)))}
		wg.Add(1)
		go func() { defer wg.Done(); w.run(ctx) }()
	}
	wg.Wait()
	rec.Add(Record{Kind: KindEnd, T: Now()})
	return rec.Flush()
}

type worker struct {
	id   int
	o    WorkloadOptions
	c    *client.Client
	rec  *Recorder
	rnd  *rand.Rand
	lics int
	evs  sync.WaitGroup
}

func (w *worker) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rnd.Int64N(int64(hi-lo)))
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *worker) run(ctx context.Context) {
	defer func() {
		_ = w.c.Close()
		w.evs.Wait()
	}()
	// Spread the first checkouts over a second.
	if !sleep(ctx, w.between(0, time.Second)) {
		return
	}
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(context.Background(), w.o.OpTimeout)
		inv := Now()
		lic, err := w.c.Checkout(octx, w.o.Feature, "", 1)
		comp := Now()
		cancel()
		r := Record{Kind: KindOp, Client: w.id, Op: "checkout", Inv: inv, Comp: comp}
		if err != nil {
			r.Result, r.Err = Failure, err.Error()
			var we *wire.Error
			if errors.As(err, &we) {
				r.Code = we.Code
				if we.Code == wire.CodeMaxUsers {
					r.Result = Denied
				}
			}
			w.rec.Add(r)
			backoff := w.between(0, w.o.ErrorMax)
			if r.Result == Denied {
				backoff = w.between(w.o.DeniedMin, w.o.DeniedMax)
			}
			sleep(ctx, backoff)
			continue
		}
		w.lics++
		r.Result, r.Lic, r.Handle = Granted, w.lics, lic.Handle()
		w.rec.Add(r)
		w.watch(lic, w.lics)
		hold := w.between(w.o.HoldMin, w.o.HoldMax)
		if w.rnd.Float64() < w.o.LongHold {
			hold = w.between(w.o.LongMin, w.o.LongMax)
		}
		sleep(ctx, hold)
		inv = Now()
		err = lic.Checkin()
		ci := Record{Kind: KindOp, Client: w.id, Lic: w.lics, Op: "checkin", Inv: inv, Comp: Now(), Result: OK}
		if err != nil {
			ci.Result, ci.Err = Failure, err.Error()
		}
		w.rec.Add(ci)
		sleep(ctx, w.between(0, w.o.ThinkMax))
	}
}

// watch records lic's events until Checkin closes its channel.
func (w *worker) watch(lic *client.License, n int) {
	w.evs.Add(1)
	go func() {
		defer w.evs.Done()
		for ev := range lic.Events() {
			r := Record{Kind: KindEvent, Client: w.id, Lic: n, Event: ev.Kind.String(), T: Now()}
			if ev.Err != nil {
				r.Err = ev.Err.Error()
			}
			if ev.Kind == client.Regained {
				r.Handle = lic.Handle()
			}
			w.rec.Add(r)
		}
	}()
}

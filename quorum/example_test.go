package quorum_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lmtriad/lmtriad/quorum"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Example wires three Nodes together by hand, in one goroutine: tick everyone,
// pass every message on, repeat.
func Example() {
	hosts := [3]string{"pat", "lee", "terry"}
	var nodes [3]*quorum.Node
	for r := range nodes {
		n, err := quorum.New(quorum.Config{Self: r, Hosts: hosts, Timing: quorum.FastTiming()})
		if err != nil {
			panic(err)
		}
		nodes[r] = n
	}
	for range 40 { // 2 s of 50 ms ticks
		for _, n := range nodes {
			n.Tick()
		}
		for delivered := true; delivered; {
			delivered = false
			for _, n := range nodes {
				rd := n.Ready()
				for _, m := range rd.Messages {
					m.From = n.Config().Self // what a transport does
					if err := nodes[m.To].Step(m); err != nil {
						panic(err)
					}
					delivered = true
				}
			}
		}
	}
	for _, n := range nodes {
		st := n.Status()
		fmt.Printf("%s: %s serving=%v master=%s cluster=%s\n", hosts[st.Self], st.Role, st.Serving, st.MasterHost(), st.Cluster)
	}
	// Output:
	// pat: Master serving=true master=pat cluster=operational
	// lee: Standby serving=false master=pat cluster=operational
	// terry: Standby serving=false master=pat cluster=operational
}

// glue is what lmgrd does around a Node: one goroutine owns it, ticks it from
// a clock (catching up on missed ticks before anything else), feeds it
// messages from the transport and applies Ready.
type glue struct {
	mu    sync.Mutex
	node  *quorum.Node
	tr    quorum.Transport
	clock func() time.Duration // monotonic time since start; the fake one in tests
	tick  time.Duration
	// stopServing is where lmgrd stops granting licences (nil in this test).
	stopServing func()
}

// catchUp runs the ticks owed by the clock. Call it before Step and before
// every licence decision, so that a stalled process never serves on a lease
// its clock has not yet seen run out.
func (g *glue) catchUp() {
	for want := int64(g.clock() / g.tick); g.node.Now() < want; {
		g.node.Tick()
	}
}

func (g *glue) flush() {
	rd := g.node.Ready()
	if rd.SoftState != nil && !rd.SoftState.Serving && g.stopServing != nil {
		g.stopServing() // before any message leaves
	}
	// lmgrd logs rd.Events here
	for _, m := range rd.Messages {
		_ = g.tr.Send(m) // best effort; a lost message is a lost heartbeat
	}
}

func (g *glue) run(ctx context.Context, wake <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			g.mu.Lock()
			g.catchUp()
			g.flush()
			g.mu.Unlock()
		case m, ok := <-g.tr.Recv():
			if !ok {
				return
			}
			g.mu.Lock()
			g.catchUp()
			_ = g.node.Step(m) // a malformed message is logged and dropped
			g.flush()
			g.mu.Unlock()
		}
	}
}

func (g *glue) serving() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.catchUp()
	return g.node.Serving()
}

// TestGoroutineGlue runs three glued Nodes in their own goroutines over an
// InmemNetwork with a shared fake clock, isolates the master, and checks that
// the secondary takes over and that at no sample do two servers serve.
func TestGoroutineGlue(t *testing.T) {
	timing := quorum.FastTiming()
	net := quorum.NewInmemNetwork()
	var now atomic.Int64 // fake monotonic clock, in ns
	clock := func() time.Duration { return time.Duration(now.Load()) }
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var glues [3]*glue
	var wakes [3]chan struct{}
	for r := range glues {
		n, err := quorum.New(quorum.Config{Self: r, Hosts: [3]string{"a", "b", "c"}, Timing: timing, Incarnation: 1})
		if err != nil {
			t.Fatal(err)
		}
		glues[r] = &glue{node: n, tr: net.Transport(r), clock: clock, tick: timing.Tick}
		wakes[r] = make(chan struct{}, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			glues[r].run(ctx, wakes[r])
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
		for r := range glues {
			_ = glues[r].tr.Close()
		}
	}()

	advance := func(ticks int, check func() bool) bool {
		for range ticks {
			now.Add(int64(timing.Tick))
			for _, w := range wakes {
				select {
				case w <- struct{}{}:
				default:
				}
			}
			time.Sleep(200 * time.Microsecond) // let the goroutines exchange messages
			serving := 0
			for _, g := range glues {
				if g.serving() {
					serving++
				}
			}
			if serving > 1 {
				t.Fatal("two servers serving")
			}
			if check != nil && check() {
				return true
			}
		}
		return check == nil
	}
	if !advance(200, func() bool { return glues[0].serving() }) {
		t.Fatal("primary never served")
	}
	net.Isolate(0)
	if !advance(200, func() bool { return glues[1].serving() }) {
		t.Fatal("secondary never took over")
	}
	net.HealAll()
	advance(40, nil)
}

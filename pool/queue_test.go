package pool

import (
	"slices"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
)

func TestQueue(t *testing.T) {
	type step struct {
		op     string // checkout, queue (a checkout that waits), checkin, close, expire, reload, policy
		c      Client
		feat   string
		n      int    // checkout count; 0 means 1
		hnd    uint64 // checkin handle
		at     time.Duration
		code   int         // the checkout's or checkin's denial
		want   []DeltaKind // kinds of the deltas
		grants []uint64    // handles of the Grant deltas, in order
		drop   int         // Code of the last Dequeue
		pools  []licfile.Pool
		policy string
		queue  []uint64 // the feature's queue afterwards (feat, or f)
	}
	ann, bob, cat, dan := cl(1, "ann"), cl(2, "bob"), cl(3, "cat"), cl(4, "dan")
	one := []licfile.Pool{pl("k", "f", "1.0", 1), pl("g", "g", "1.0", 2)}
	two := []licfile.Pool{pl("k", "f", "1.0", 2)}
	tests := []struct {
		name  string
		pools []licfile.Pool
		opt   string
		opts  Options
		steps []step
	}{
		{"FIFO: granted in order as licenses free", one, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}, queue: []uint64{2}},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}, queue: []uint64{2, 3}},
			{op: "queue", c: dan, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}, queue: []uint64{2, 3, 4}},
			{op: "checkin", c: ann, hnd: 1, want: []DeltaKind{Release, Grant}, grants: []uint64{2}, queue: []uint64{3, 4}},
			{op: "checkin", c: bob, hnd: 2, want: []DeltaKind{Release, Grant}, grants: []uint64{3}, queue: []uint64{4}},
			{op: "close", c: cat, want: []DeltaKind{Release, Grant}, grants: []uint64{4}},
		}},
		{"not queued without asking; granted at once when it fits", two, "", Options{}, []step{
			{op: "queue", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkout", c: bob, feat: "f", code: CodeMaxUsers},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "checkout", c: cat, feat: "f", code: CodeMaxUsers},
		}},
		{"not queued for what no release cures", one, "", Options{}, []step{
			{op: "queue", c: ann, feat: "nope", code: CodeNoFeature},
			{op: "queue", c: ann, feat: "f", n: 2, code: CodeTooMany},
		}},
		{"head blocks those behind it", two, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", n: 2, code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			// One license frees: cat would fit, bob (the head) does not.
			{op: "checkin", c: ann, hnd: 1, want: []DeltaKind{Release}, queue: []uint64{3, 4}},
			{op: "checkin", c: ann, hnd: 2, want: []DeltaKind{Release, Grant}, grants: []uint64{3}, queue: []uint64{4}},
			{op: "checkin", c: bob, hnd: 3, want: []DeltaKind{Release, Grant}, grants: []uint64{4}},
		}},
		{"a cancelled head lets the next through", two, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", n: 2, code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "checkin", c: ann, hnd: 1, want: []DeltaKind{Release}, queue: []uint64{3, 4}},
			{op: "checkin", c: cat, hnd: 3, code: CodeNeverCheckedOut}, // not cat's
			{op: "checkin", c: bob, hnd: 3, want: []DeltaKind{Dequeue, Grant}, grants: []uint64{4}},
		}},
		{"a closed session's requests are dropped", one, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "close", c: bob, want: []DeltaKind{Dequeue}, queue: []uint64{3}},
			{op: "checkin", c: ann, hnd: 1, want: []DeltaKind{Release, Grant}, grants: []uint64{3}},
		}},
		{"a silent session's requests time out", one, "", Options{HeartbeatTimeout: time.Minute}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "heartbeat", c: ann, at: 30 * time.Second},
			{op: "heartbeat", c: cat, at: 50 * time.Second},
			{op: "expire", at: 61 * time.Second, want: []DeltaKind{Dequeue}, queue: []uint64{3}},
			{op: "expire", at: 91 * time.Second, want: []DeltaKind{Release, Grant}, grants: []uint64{3}},
		}},
		{"a reread that removes the feature drops the queue", one, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "reload", pools: []licfile.Pool{pl("g", "g", "1.0", 2)}, want: []DeltaKind{Release, Reload, Dequeue}, drop: CodeNoFeature},
		}},
		{"a reread that adds licenses grants", one, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "reload", pools: two, want: []DeltaKind{Reload, Grant}, grants: []uint64{2}},
		}},
		{"queued for a reservation held for others", one, "RESERVE 1 f USER ann", Options{}, []step{
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkin", c: ann, hnd: 2, want: []DeltaKind{Release}, queue: []uint64{1}},
			{op: "policy", policy: "", want: []DeltaKind{Grant}, grants: []uint64{1}},
		}},
		{"a policy that now excludes the head drops it", one, "", Options{}, []step{
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "policy", policy: "EXCLUDE f USER bob", want: []DeltaKind{Dequeue}, drop: CodeFeatExclude, queue: []uint64{3}},
			{op: "checkin", c: ann, hnd: 1, want: []DeltaKind{Release, Grant}, grants: []uint64{3}},
		}},
		{"a MAX line applies to the queue's grants", two, "MAX 1 f USER bob", Options{}, []step{
			{op: "checkout", c: bob, feat: "f", want: []DeltaKind{Grant}},
			{op: "checkout", c: ann, feat: "f", want: []DeltaKind{Grant}},
			{op: "queue", c: bob, feat: "f", code: CodeMaxLimit},
			{op: "queue", c: cat, feat: "f", code: CodeFeatQueue, want: []DeltaKind{Enqueue}},
			{op: "checkin", c: ann, hnd: 2, want: []DeltaKind{Release, Grant}, grants: []uint64{3}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if tt.opt != "" {
				opts.Policy = parsePolicy(t, tt.opt)
			}
			s := New(tt.pools, opts)
			replica := New(tt.pools, opts)
			for i, st := range tt.steps {
				now := at(st.at)
				var ds []Delta
				var err error
				switch st.op {
				case "checkout", "queue":
					r := req(st.c, st.feat, "", st.n)
					r.Queue = st.op == "queue"
					var h Holder
					h, ds, err = s.Checkout(r, now)
					if d, ok := err.(*Denial); ok && d.Code == CodeFeatQueue && (d.Handle != h.Handle || h.Handle == 0) {
						t.Fatalf("step %d: queued handle %d, denial handle %d", i, h.Handle, d.Handle)
					}
				case "checkin":
					ds, err = s.Checkin(st.c.Session, st.hnd, now)
				case "close":
					ds = s.CloseSession(st.c.Session, now)
				case "heartbeat":
					s.Heartbeat(st.c.Session, now)
				case "expire":
					ds = s.Expire(now)
				case "reload":
					ds = s.Reload(st.pools, now)
				case "policy":
					var p = parsePolicy(t, st.policy)
					s.SetPolicy(p, now)
					replica.SetPolicy(p, now)
					ds = s.ServeQueues(now)
				default:
					t.Fatalf("step %d: unknown op %q", i, st.op)
				}
				if st.code != 0 {
					wantDenial(t, err, st.code)
				} else if err != nil {
					t.Fatalf("step %d (%s): %v", i, st.op, err)
				}
				var kinds []DeltaKind
				var grants []uint64
				for _, d := range ds {
					kinds = append(kinds, d.Kind)
					if d.Kind == Grant {
						grants = append(grants, d.Holder.Handle)
					}
					if err := replica.Apply(d); err != nil {
						t.Fatalf("step %d: replica: %v", i, err)
					}
				}
				if !slices.Equal(kinds, st.want) {
					t.Fatalf("step %d (%s): got deltas %v, want %v", i, st.op, kinds, st.want)
				}
				if st.grants != nil && !slices.Equal(grants, st.grants) {
					t.Fatalf("step %d: granted %v, want %v", i, grants, st.grants)
				}
				if st.drop != 0 && ds[len(ds)-1].Code != st.drop {
					t.Fatalf("step %d: dequeue code %d, want %d", i, ds[len(ds)-1].Code, st.drop)
				}
				feat := st.feat
				if feat == "" {
					feat = "f"
				}
				if st.queue != nil {
					var got []uint64
					if fs := s.Status(feat); len(fs) == 1 {
						for _, q := range fs[0].Queued {
							got = append(got, q.Handle)
						}
					}
					if !slices.Equal(got, st.queue) {
						t.Fatalf("step %d: queue of %s %v, want %v", i, feat, got, st.queue)
					}
				}
				checkInvariants(t, s)
				checkInvariants(t, replica)
				assertSameSnapshot(t, s.Snapshot(), replica.Snapshot(), false) // heartbeats are not replicated
				r, err := Restore(s.Snapshot(), opts)
				if err != nil {
					t.Fatal(err)
				}
				assertSameSnapshot(t, s.Snapshot(), r.Snapshot(), true)
			}
		})
	}
}

// A client that reconnects (a failover) presents its queued handle and
// secret: the request keeps its place under the new session.
func TestQueueReattach(t *testing.T) {
	s := New([]licfile.Pool{pl("k", "f", "1.0", 1)}, Options{})
	ann, bob := cl(1, "ann"), cl(2, "bob")
	mustCheckout(t, s, req(ann, "f", "", 1), at(0))
	r := req(bob, "f", "", 1)
	r.Queue, r.NewSecret = true, "s3cret"
	q, _, err := s.Checkout(r, at(0))
	wantDenial(t, err, CodeFeatQueue)
	bob2 := bob
	bob2.Session = 9
	r2 := req(bob2, "f", "", 1)
	r2.Queue, r2.Handle, r2.Secret = true, q.Handle, "wrong"
	if _, _, err := s.Checkout(r2, at(time.Second)); err == nil || !err.(*Denial).BadSecret {
		t.Fatalf("reattach with a wrong secret: %v", err)
	}
	r2.Secret = "s3cret"
	h, ds, err := s.Checkout(r2, at(time.Second))
	wantDenial(t, err, CodeFeatQueue)
	if h.Handle != q.Handle || h.Session != 9 || len(ds) != 1 || ds[0].Kind != Rebind {
		t.Fatalf("reattach: %+v %v", h, ds)
	}
	if ds := s.CloseSession(2, at(time.Second)); len(ds) != 0 {
		t.Fatalf("old session still had %v", ds)
	}
	ds, _ = s.Checkin(1, 1, at(2*time.Second))
	if len(ds) != 2 || ds[1].Kind != Grant || ds[1].Holder.Handle != q.Handle || ds[1].Holder.Session != 9 || ds[1].Holder.Secret != "s3cret" {
		t.Fatalf("grant after reattach: %+v", ds)
	}
	checkInvariants(t, s)
}

package table

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/lmtriad/lmtriad/pool"
)

// Entry is the content of one raft log entry: a batch of one vendor daemon's deltas.
type Entry struct {
	Proposer int          // rank (0,1,2) of the member whose vendor daemon proposed it
	Vendor   string       // the vendor daemon's name; required
	Gen      uint64       // the proposer's handover generation (bookkeeping for the proposer; Apply ignores it)
	Deltas   []pool.Delta // consecutive Seq
}

// Tables is one pool.State per vendor, the replicated state machine. A
// vendor never seen has an empty table (no pools, Seq 0). Tables are safe
// for concurrent use.
type Tables struct {
	opts pool.Options

	mu      sync.RWMutex
	vendors map[string]*pool.State // only tables at Seq ≥ 1
}

// New returns empty Tables whose vendor tables use opts (the same on every
// member).
func New(opts pool.Options) *Tables {
	return &Tables{opts: opts, vendors: make(map[string]*pool.State)}
}

// Apply applies a committed entry to its vendor's table. See the package
// documentation for what happens on error; in short:
//   - deltas that do not continue the table's Seq exactly: nothing applied,
//     ErrNotContinuation;
//   - an empty vendor, an unknown kind or reason, a time that cannot be
//     encoded: nothing applied, ErrMalformed;
//   - a delta that does not fit the table (pool.ErrDiverged): the deltas
//     before it stay applied, on every member alike.
//
// An entry without deltas changes nothing. Apply never panics on a bad
// entry.
func (t *Tables) Apply(e Entry) error {
	if err := checkEntry(&e); err != nil {
		return fmt.Errorf("table: entry of vendor %q: %w", e.Vendor, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.vendors[e.Vendor]
	var seq uint64
	if s != nil {
		seq = s.Seq()
	}
	want := seq + 1
	for i := range e.Deltas {
		if got := e.Deltas[i].Seq; got != want || want == 0 {
			return fmt.Errorf("%w: vendor %q at seq %d, delta %d of the entry has seq %d, want %d",
				ErrNotContinuation, e.Vendor, seq, i, got, want)
		}
		want++
	}
	if len(e.Deltas) == 0 {
		return nil
	}
	fresh := s == nil
	if fresh {
		s = pool.New(nil, t.opts)
	}
	for i := range e.Deltas {
		if err := s.Apply(e.Deltas[i]); err != nil {
			if !fresh || i > 0 {
				t.vendors[e.Vendor] = s
			}
			return fmt.Errorf("table: vendor %q: delta %d of %d (seq %d, %v) not applied, %d applied: %w",
				e.Vendor, i, len(e.Deltas), e.Deltas[i].Seq, e.Deltas[i].Kind, i, err)
		}
	}
	t.vendors[e.Vendor] = s
	return nil
}

// Seq is the vendor's table position: the Seq of the last delta applied (0
// for an unknown vendor).
func (t *Tables) Seq(vendor string) uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if s := t.vendors[vendor]; s != nil {
		return s.Seq()
	}
	return 0
}

// Borrowed is how many licenses of vendor's table are borrowed (all
// vendors' when vendor is "").
func (t *Tables) Borrowed(vendor string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	for name, s := range t.vendors {
		if vendor == "" || name == vendor {
			n += s.Borrowed()
		}
	}
	return n
}

// Snapshot returns one vendor's table; for an unknown vendor, that of an
// empty table (no pools, no holders, Seq 0). It shares the tables' slices
// (Lines, HostIDs): do not modify them.
func (t *Tables) Snapshot(vendor string) pool.Snapshot {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if s := t.vendors[vendor]; s != nil {
		return s.Snapshot()
	}
	return pool.New(nil, t.opts).Snapshot()
}

// Holders is the number of holders of the vendor's table (for logs).
func (t *Tables) Holders(vendor string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if s := t.vendors[vendor]; s != nil {
		return s.Holders()
	}
	return 0
}

// Marshal encodes every vendor's table (format 2, version 1: raft snapshot
// data). Members holding the same tables get the same bytes.
func (t *Tables) Marshal() ([]byte, error) {
	t.mu.RLock()
	names := make([]string, 0, len(t.vendors))
	for v := range t.vendors {
		names = append(names, v)
	}
	slices.Sort(names)
	w := wireTables{Vendors: make([]wireVendor, 0, len(names))}
	for _, v := range names {
		ws, err := snapshotToWire(t.vendors[v].Snapshot())
		if err != nil {
			t.mu.RUnlock()
			return nil, fmt.Errorf("table: vendor %q: %w", v, err)
		}
		w.Vendors = append(w.Vendors, wireVendor{Vendor: encStr(v), Table: *ws})
	}
	t.mu.RUnlock()
	return encode(formatTables, tablesVersion, w)
}

// Unmarshal rebuilds Tables from Marshal's output, with opts as New takes
// them. Every error wraps ErrMalformed (an inconsistent table, one
// pool.Restore refuses, wraps pool.ErrDiverged too).
func Unmarshal(b []byte, opts pool.Options) (*Tables, error) {
	var w *wireTables
	if err := decode(b, formatTables, tablesVersion, &w); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, malformed("tables are null")
	}
	t := New(opts)
	prev := ""
	for i := range w.Vendors {
		wv := &w.Vendors[i]
		v, err := decStr(wv.Vendor)
		if err != nil {
			return nil, fmt.Errorf("tables: vendor %d: %w", i, err)
		}
		if v == "" {
			return nil, malformed("tables: vendor %d has no name", i)
		}
		if i > 0 && strings.Compare(prev, v) >= 0 {
			return nil, malformed("tables: vendor %q after %q: want each once, in ascending order", v, prev)
		}
		prev = v
		snap, err := snapshotFromWire(&wv.Table)
		if err != nil {
			return nil, fmt.Errorf("tables: vendor %q: %w", v, err)
		}
		if snap.Seq == 0 {
			return nil, malformed("tables: vendor %q at seq 0: an empty table is not listed", v)
		}
		s, err := pool.Restore(snap, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: tables: vendor %q: %w", ErrMalformed, v, err)
		}
		t.vendors[v] = s
	}
	return t, nil
}

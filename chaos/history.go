package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/lmtriad/lmtriad/handoff"
)

// Now is the one clock of a history: CLOCK_MONOTONIC in nanoseconds. It is
// system-wide, so the workload process and the nemesis in the harness
// process stamp their records on the same axis.
func Now() int64 { return handoff.BootTimeNow() }

// Kind is the type of a history record.
type Kind string

const (
	// KindOp is a client operation: Op is "checkout" or "checkin".
	KindOp Kind = "op"
	// KindEvent is a license event the client library delivered.
	KindEvent Kind = "event"
	// KindFault is a nemesis action, with the quorum state after it.
	KindFault Kind = "fault"
	// KindEnd marks the end of the history (the workload stopped).
	KindEnd Kind = "end"
)

// Operation results.
const (
	Granted = "granted" // checkout: the client holds the license
	Denied  = "denied"  // checkout: the pool answered -4 (all in use)
	Failure = "error"   // checkout: anything else (server away, timeout); the client holds nothing
	OK      = "ok"      // checkin
)

// Record is one line of a history. Times are Now() values.
type Record struct {
	Kind   Kind   `json:"k"`
	Client int    `json:"c,omitempty"`
	Lic    int    `json:"l,omitempty"` // per-client sequence number of a granted license
	Op     string `json:"op,omitempty"`
	Inv    int64  `json:"inv,omitempty"`  // invocation (ops)
	Comp   int64  `json:"comp,omitempty"` // completion (ops); 0: never completed
	Result string `json:"res,omitempty"`
	Code   int    `json:"code,omitempty"` // FlexLM code of a denial or error
	Err    string `json:"err,omitempty"`
	Handle uint64 `json:"h,omitempty"`

	Event string `json:"ev,omitempty"` // lost, regained, failed (KindEvent)
	T     int64  `json:"t,omitempty"`  // time of an event, fault or end

	Fault  string `json:"fault,omitempty"`  // what the nemesis did (KindFault)
	Quorum bool   `json:"quorum,omitempty"` // a quorum reachable by clients exists after it
	// Restore marks a heal or a restart: an action that gives back what an
	// earlier one took (check c is judged from these).
	Restore bool `json:"restore,omitempty"`
}

// At is the record's position on the time axis.
func (r Record) At() int64 {
	if r.Kind == KindOp {
		return r.Inv
	}
	return r.T
}

// History is an ordered list of records.
type History []Record

// Sort orders h by time (stable, so records of one client keep their order).
func (h History) Sort() {
	sort.SliceStable(h, func(i, j int) bool { return h[i].At() < h[j].At() })
}

// Recorder writes records as JSON lines; it is safe for concurrent use.
type Recorder struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

// NewRecorder writes to w; call Flush at the end.
func NewRecorder(w io.Writer) *Recorder {
	bw := bufio.NewWriterSize(w, 1<<16)
	return &Recorder{w: bw, enc: json.NewEncoder(bw)}
}

// Add writes r.
func (rc *Recorder) Add(r Record) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.enc.Encode(r); err != nil && rc.err == nil {
		rc.err = err
	}
}

// Flush writes out what is buffered and reports the first error.
func (rc *Recorder) Flush() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.w.Flush(); err != nil && rc.err == nil {
		rc.err = err
	}
	return rc.err
}

// ReadHistory reads JSON lines. A torn last line (a writer killed
// mid-write) is ignored; any other bad line is an error.
func ReadHistory(r io.Reader) (History, error) {
	var h History
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var bad error
	n := 0
	for sc.Scan() {
		n++
		if bad != nil {
			return nil, bad
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			bad = fmt.Errorf("history line %d: %w", n, err)
			continue
		}
		h = append(h, rec)
	}
	return h, sc.Err()
}

package chaos

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// The checks, by the letters of docs/chaos.md.
const (
	CheckLimit   = "a: never more holders than licenses"
	CheckSurvive = "b: holders keep their license through a failover"
	CheckResume  = "c: service resumes after quorum returns"
	CheckRogue   = "d: rogue peers get nothing"
	CheckCrash   = "e: a crash of the whole triad loses no holder"
	CheckEnrol   = "f: enrolment converges"
)

// Checks lists the checks in the order they are reported.
var Checks = []string{CheckLimit, CheckSurvive, CheckResume, CheckRogue, CheckCrash, CheckEnrol}

// CheckOptions parameterize Check.
type CheckOptions struct {
	// Licenses is the feature's count.
	Licenses int
	// RegainWithin (b): a Lost license must be Regained this long after a
	// quorum is there for it, and never Failed.
	RegainWithin time.Duration
	// ResumeWithin (c): after a nemesis action that leaves a quorum, some
	// checkout invoked after it must be answered this soon.
	ResumeWithin time.Duration
}

// Violation is one finding of a check.
type Violation struct {
	Check string
	At    int64 // Now() time
	Text  string
}

// Report is what Check found, with the counts of the history.
type Report struct {
	Checkouts, Grants, Denials, Errors int
	Checkins, CheckinErrors            int
	Lost, Regained, Failed             int
	Faults                             int
	MaxHolders                         int           // most licenses believed held at once
	MaxRegain                          time.Duration // longest Lost → Regained
	MaxResume                          time.Duration // longest heal/restart → first answer (c)
	ResumeChecked, ResumeSkipped       int
	// Failovers: faults that leave a quorum (kill or cut the master...),
	// timed like (c) but only reported: the failover's own time comes first.
	MaxFailover     time.Duration
	FailoverChecked int
	SlowFailovers   []string
	// Rogue: what check (d) saw of the rogue-peer faults (CheckRogue).
	Rogue RogueStats
	// Crash: what check (e) saw of the kill-all faults (CheckCrash).
	Crash CrashStats
	// Enrol: what check (f) saw of the enrol-partition faults (CheckEnrol).
	Enrol      EnrolStats
	Violations map[string][]Violation
	// Base is the time of the history's first record; reports show times
	// as seconds since it.
	Base int64
}

// Ops is the number of client operations.
func (r *Report) Ops() int { return r.Checkouts + r.Checkins }

// Count is the number of violations of one check.
func (r *Report) Count(check string) int { return len(r.Violations[check]) }

// Print writes the counts and up to max violations per check.
func (r *Report) Print(w io.Writer, max int) {
	fmt.Fprintf(w, "operations %d: checkouts %d (granted %d, denied %d, errors %d), checkins %d (errors %d)\n",
		r.Ops(), r.Checkouts, r.Grants, r.Denials, r.Errors, r.Checkins, r.CheckinErrors)
	fmt.Fprintf(w, "license events: lost %d, regained %d, failed %d; faults injected %d\n", r.Lost, r.Regained, r.Failed, r.Faults)
	fmt.Fprintf(w, "most holders at once %d; longest lost→regained %v\n", r.MaxHolders, r.MaxRegain.Round(time.Millisecond))
	fmt.Fprintf(w, "longest heal/restart → first answer %v (%d judged, %d skipped: next action too soon); longest fault → first answer %v (%d faults that left a quorum)\n",
		r.MaxResume.Round(time.Millisecond), r.ResumeChecked, r.ResumeSkipped, r.MaxFailover.Round(time.Millisecond), r.FailoverChecked)
	for _, s := range r.SlowFailovers {
		fmt.Fprintf(w, "    (info) %s\n", s)
	}
	var eps, tries []string
	for _, k := range []string{FaultRogueNoKey, FaultRogueStaleKey} {
		eps = append(eps, fmt.Sprintf("%s %d", k, r.Rogue.Episodes[k]))
	}
	for _, k := range RogueTries {
		tries = append(tries, fmt.Sprintf("%s %d", k, r.Rogue.Attempts[k]))
	}
	fmt.Fprintf(w, "rogue peers: %s; attempts %s; bytes read back %d (OK/ERR lines only allowed); refusals logged %d; impostor's peers probed %d (unanswered %d)\n",
		strings.Join(eps, ", "), strings.Join(tries, ", "), r.Rogue.BytesGot, r.Rogue.Refusals, r.Rogue.Probes, r.Rogue.Unprobed)
	fmt.Fprintf(w, "whole-triad crashes %d: licenses held at the crash %d, holders kept by the first master after the restart %d, regained on their own handle %d; longest restart → takeover %v\n",
		r.Crash.Episodes, r.Crash.Believed, r.Crash.Kept, r.Crash.Reattached, r.Crash.MaxTakeover.Round(time.Millisecond))
	for _, s := range r.Crash.Lines {
		fmt.Fprintf(w, "    (info) kill-all %s\n", s)
	}
	e := &r.Enrol
	fmt.Fprintf(w, "enrolments during a partition %d (judged %d): dropped %d, lmenroll %d; new files %d, changed %d; master cut off %d; hand edits %d (kept aside %d); longest partition → enrolled %v, heal → in line and served %v; files in line at the end %d\n",
		e.Episodes, e.Judged, e.Drops, e.Lmenrolls, e.New, e.Changed, e.CutMaster, e.HandEdits, e.KeptAside,
		e.MaxEnrol.Round(time.Millisecond), e.MaxConverge.Round(time.Millisecond), e.FinalFiles)
	for _, s := range e.Lines {
		fmt.Fprintf(w, "    (info) enrol-partition %s\n", s)
	}
	for _, c := range Checks {
		vs := r.Violations[c]
		fmt.Fprintf(w, "violations %-50s %d\n", c+":", len(vs))
		for i, v := range vs {
			if i == max {
				fmt.Fprintf(w, "    ... %d more\n", len(vs)-max)
				break
			}
			fmt.Fprintf(w, "    %s\n", v.Text)
		}
	}
}

// hold is one license as its client saw it: the records that concern it.
type hold struct {
	client, lic int
	granted     int64    // completion of the checkout
	handle      uint64   // the server's handle of the grant
	recs        []Record // events and the checkin, in time order
}

// belief is a stretch [from, to) during which a client believed it held a
// license (Held() true), and the handle it held it by.
type belief struct {
	from, to  int64
	handle    uint64
	byCheckin bool // it ended at the invocation of the client's checkin
}

// beliefs are hd's stretches of belief. One runs from a checkout's
// completion (or a Regained event) to the checkin's invocation (or a Lost
// or Failed event, or end): exactly the time the client library reports
// Held() true.
func (hd *hold) beliefs(end int64) []belief {
	var out []belief
	cur := belief{from: hd.granted, handle: hd.handle}
	held := true
	for _, rec := range hd.recs {
		switch {
		case rec.Kind == KindOp: // the checkin
			if held {
				cur.to, cur.byCheckin = rec.Inv, true
				out = append(out, cur)
			}
			return out
		case rec.Event == "lost" || rec.Event == "failed":
			if held {
				cur.to = rec.T
				out = append(out, cur)
			}
			held = false
		case rec.Event == "regained":
			if !held {
				held, cur = true, belief{from: rec.T, handle: rec.Handle}
			}
		}
	}
	if held {
		cur.to = end
		out = append(out, cur)
	}
	return out
}

// beliefAt is hd's belief at instant t, if its client believed then.
func (hd *hold) beliefAt(t, end int64) (belief, bool) {
	for _, b := range hd.beliefs(end) {
		if b.from <= t && t < b.to {
			return b, true
		}
	}
	return belief{}, false
}

// quorumLine is the nemesis' view: from each fault record's time on, whether
// a quorum reachable by the clients exists. Before the first record it does.
type quorumLine struct {
	t       []int64
	up      []bool
	restore []bool
	what    []string
}

func (q *quorumLine) at(t int64) bool {
	i := sort.Search(len(q.t), func(i int) bool { return q.t[i] > t }) - 1
	if i < 0 {
		return true
	}
	return q.up[i]
}

// windowEnd is when the quorum available at t next goes away (MaxInt64: never).
func (q *quorumLine) windowEnd(t int64) int64 {
	for i := range q.t {
		if q.t[i] > t && !q.up[i] {
			return q.t[i]
		}
	}
	return math.MaxInt64
}

// deadline (b): the first stretch from `from` on during which a quorum
// exists for at least d; the license must be back by its start + d.
// MaxInt64 when there is none.
func (q *quorumLine) deadline(from int64, d time.Duration) int64 {
	cand := []int64{from}
	for i := range q.t {
		if q.t[i] > from && q.up[i] {
			cand = append(cand, q.t[i])
		}
	}
	for _, s := range cand {
		if !q.at(s) {
			continue
		}
		if e := q.windowEnd(s); e == math.MaxInt64 || e-s >= int64(d) {
			return s + int64(d)
		}
	}
	return math.MaxInt64
}

// Check runs checks (a), (b) and (c) over h (any order).
func Check(h History, o CheckOptions) *Report {
	h = append(History(nil), h...)
	h.Sort()
	r, order, end, q := scan(h)
	checkLimit(r, order, end, o)
	checkSurvive(r, order, end, &q, o)
	checkResume(r, h, end, &q, o)
	return r
}

// scan reads h, sorted: a report with the counts, every granted license
// with its records in time order, the end, the quorum timeline.
func scan(h History) (r *Report, order []*hold, end int64, q quorumLine) {
	r = &Report{Violations: map[string][]Violation{}}
	if len(h) > 0 {
		r.Base = h[0].At()
	}
	holds := map[[2]int]*hold{}
	for _, rec := range h {
		end = max(end, rec.At(), rec.Comp)
		switch rec.Kind {
		case KindEnd:
		case KindFault:
			q.t = append(q.t, rec.T)
			q.up = append(q.up, rec.Quorum)
			q.restore = append(q.restore, rec.Restore)
			q.what = append(q.what, rec.Fault)
			if rec.Fault != "start" {
				r.Faults++
			}
		case KindOp:
			if rec.Op == "checkin" {
				r.Checkins++
				if rec.Result != OK {
					r.CheckinErrors++
				}
				if hd := holds[[2]int{rec.Client, rec.Lic}]; hd != nil {
					hd.recs = append(hd.recs, rec)
				}
				continue
			}
			r.Checkouts++
			switch rec.Result {
			case Granted:
				r.Grants++
				hd := &hold{client: rec.Client, lic: rec.Lic, granted: rec.Comp, handle: rec.Handle}
				holds[[2]int{rec.Client, rec.Lic}] = hd
				order = append(order, hd)
			case Denied:
				r.Denials++
			default:
				r.Errors++
			}
		case KindEvent:
			switch rec.Event {
			case "lost":
				r.Lost++
			case "regained":
				r.Regained++
			case "failed":
				r.Failed++
			}
			if hd := holds[[2]int{rec.Client, rec.Lic}]; hd != nil {
				hd.recs = append(hd.recs, rec)
			}
		}
	}
	for _, rec := range h {
		if rec.Kind == KindEnd {
			end = max(end, rec.T)
		}
	}
	for _, hd := range order {
		sort.SliceStable(hd.recs, func(i, j int) bool { return hd.recs[i].At() < hd.recs[j].At() })
	}
	return r, order, end, q
}

// checkLimit (a): count, at every instant, the licenses that clients
// believe they hold (hold.beliefs), and flag every stretch where that
// exceeds the count. Indeterminate checkouts (errors, timeouts) start no
// belief.
func checkLimit(r *Report, holds []*hold, end int64, o CheckOptions) {
	type edge struct {
		t     int64
		delta int
		who   string
	}
	var edges []edge
	for _, hd := range holds {
		who := fmt.Sprintf("client %d license %d", hd.client, hd.lic)
		for _, b := range hd.beliefs(end) {
			edges = append(edges, edge{b.from, +1, who}, edge{b.to, -1, who})
		}
	}
	// Ends before starts at the same instant: a hand-over is not an overlap.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].t != edges[j].t {
			return edges[i].t < edges[j].t
		}
		return edges[i].delta < edges[j].delta
	})
	n, peak := 0, 0
	var since int64
	for _, e := range edges {
		n += e.delta
		r.MaxHolders = max(r.MaxHolders, n)
		switch {
		case n > o.Licenses && peak == 0:
			since, peak = e.t, n
		case n > o.Licenses:
			peak = max(peak, n)
		case peak > 0:
			r.Violations[CheckLimit] = append(r.Violations[CheckLimit], Violation{CheckLimit, since,
				fmt.Sprintf("at %s for %v: %d licenses held at once, the feature has %d (last to start: %s)",
					r.stamp(since), time.Duration(e.t-since).Round(time.Millisecond), peak, o.Licenses, e.who)})
			peak = 0
		}
	}
}

// checkSurvive (b): every Lost must be followed by Regained (or the
// client's own checkin) within RegainWithin of a quorum being there, and
// never by Failed.
func checkSurvive(r *Report, holds []*hold, end int64, q *quorumLine, o CheckOptions) {
	for _, hd := range holds {
		var lostAt int64 = -1
		for _, rec := range hd.recs {
			closing := rec.Kind == KindOp || rec.Event == "regained" || rec.Event == "failed"
			if rec.Event == "lost" && lostAt < 0 {
				lostAt = rec.T
				continue
			}
			if !closing || lostAt < 0 {
				if rec.Kind == KindOp {
					break
				}
				continue
			}
			at := rec.At()
			d := q.deadline(lostAt, o.RegainWithin)
			who := fmt.Sprintf("client %d license %d lost at %s", hd.client, hd.lic, r.stamp(lostAt))
			switch {
			case rec.Event == "failed":
				r.Violations[CheckSurvive] = append(r.Violations[CheckSurvive], Violation{CheckSurvive, at,
					fmt.Sprintf("%s: failed %v later: %s", who, time.Duration(at-lostAt).Round(time.Millisecond), rec.Err)})
			case rec.Event == "regained":
				r.MaxRegain = max(r.MaxRegain, time.Duration(at-lostAt))
				if at > d {
					r.Violations[CheckSurvive] = append(r.Violations[CheckSurvive], Violation{CheckSurvive, at,
						fmt.Sprintf("%s: regained only %v later", who, time.Duration(at-lostAt).Round(time.Millisecond))})
				}
			default: // the client checked in while waiting
				if at > d {
					r.Violations[CheckSurvive] = append(r.Violations[CheckSurvive], Violation{CheckSurvive, at,
						fmt.Sprintf("%s: not regained within %v of a quorum", who, o.RegainWithin)})
				}
			}
			lostAt = -1
			if rec.Kind == KindOp || rec.Event == "failed" {
				break
			}
		}
		if lostAt >= 0 && end > q.deadline(lostAt, o.RegainWithin) {
			r.Violations[CheckSurvive] = append(r.Violations[CheckSurvive], Violation{CheckSurvive, end,
				fmt.Sprintf("client %d license %d lost at %s: never regained", hd.client, hd.lic, r.stamp(lostAt))})
		}
	}
}

// checkResume (c): after every heal or restart that leaves a quorum, and
// every action that brings a quorum back, a checkout invoked after it must
// be answered (granted, or denied by the pool: both prove a serving master)
// within ResumeWithin. Actions followed by another within ResumeWithin, or
// too close to the end, are skipped. Faults that leave a quorum (a master
// killed, isolated or cut off) are timed the same way but only reported.
func checkResume(r *Report, h History, end int64, q *quorumLine, o CheckOptions) {
	// Answers: a checkout's completion with its invocation, or a Regained
	// with the Lost before it (the re-checkout started after the Lost).
	type answer struct{ inv, comp int64 }
	var answers []answer
	lost := map[[2]int]int64{}
	for _, rec := range h {
		switch {
		case rec.Kind == KindOp && rec.Op == "checkout" && (rec.Result == Granted || rec.Result == Denied):
			answers = append(answers, answer{rec.Inv, rec.Comp})
		case rec.Kind == KindEvent && rec.Event == "lost":
			lost[[2]int{rec.Client, rec.Lic}] = rec.T
		case rec.Kind == KindEvent && rec.Event == "regained":
			if t, ok := lost[[2]int{rec.Client, rec.Lic}]; ok {
				answers = append(answers, answer{t, rec.T})
			}
		}
	}
	limit := int64(o.ResumeWithin)
	for i, t := range q.t {
		if !q.up[i] || q.what[i] == "start" {
			continue
		}
		judged := q.restore[i] || (i > 0 && !q.up[i-1])
		if (i+1 < len(q.t) && q.t[i+1] <= t+limit) || end < t+limit {
			if judged {
				r.ResumeSkipped++
			}
			continue
		}
		first := int64(math.MaxInt64)
		for _, a := range answers {
			if a.inv > t && a.comp < first {
				first = a.comp
			}
		}
		took := time.Duration(first - t)
		got := fmt.Sprintf("first answer %v later", took.Round(time.Millisecond))
		if first == math.MaxInt64 {
			got = "no answer before the end"
		}
		if !judged {
			r.FailoverChecked++
			r.MaxFailover = max(r.MaxFailover, took)
			if first > t+limit {
				r.SlowFailovers = append(r.SlowFailovers, fmt.Sprintf("%s at %s: %s", q.what[i], r.stamp(t), got))
			}
			continue
		}
		r.ResumeChecked++
		r.MaxResume = max(r.MaxResume, took)
		if first > t+limit {
			r.Violations[CheckResume] = append(r.Violations[CheckResume], Violation{CheckResume, t,
				fmt.Sprintf("%s at %s: %s (limit %v)", q.what[i], r.stamp(t), got, o.ResumeWithin)})
		}
	}
}

// stamp shows a Now() time as seconds since the history began.
func (r *Report) stamp(t int64) string {
	t -= r.Base
	return "+" + strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(t)/1e9), "0"), ".") + "s"
}

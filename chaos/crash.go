package chaos

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The kill-all fault (FaultKillAll) is a crash of the whole triad: every
// member's lmgrd and vendor daemon SIGKILLed at once, then, after a pause,
// all three started again on their state directories. Raft's log is on
// their disks, so the first master after the restart must hand its vendor
// daemon a table holding every license acknowledged before the crash, and
// each client must get its own handle back. Check (e) judges that from
// what the nemesis gathers (a CrashEpisode) and from the clients' history.

// CrashEpisode is one kill-all fault, as the nemesis saw it.
type CrashEpisode struct {
	// At is Now() just before the first SIGKILL: every license a client
	// believed it held then was acknowledged before the crash.
	At int64
	// Dead is Now() once every member's lmgrd was gone: nothing could be
	// committed after it (a checkin invoked between At and Dead may have
	// been).
	Dead int64
	// Restart is Now() once the three members were started again; 0 when
	// the run ended during the pause (the final heal restarts them).
	Restart int64
	// Takeovers are the "Took over as master: N license holder(s) kept"
	// lines of the first poll of the members' logs after the restart that
	// found any (normally one line: the first master's vendor daemon, which
	// counts N as it starts serving the committed table), each prefixed
	// with the member's address.
	Takeovers []string
	// TakeoverAt is Now() at that poll; 0 if none was found.
	TakeoverAt int64
	Problems   []string
}

// CrashStats are the counts check (e) reports.
type CrashStats struct {
	Episodes int
	Believed int // licenses believed held at the crashes, summed
	Kept     int // holders the first master after each restart kept, summed
	// Reattached: of the licenses believed held at a crash, those regained
	// afterwards on their own handle. The others were checked in while
	// waiting (the client library then tells the server nothing: the
	// holder stays until its heartbeat timeout), or are violations.
	Reattached int
	// MaxTakeover is the longest restart → first master serving.
	MaxTakeover time.Duration
	// Lines: one per episode, for the report.
	Lines []string
}

// TakeoverWithin bounds how long the nemesis looks for the first master's
// takeover after a kill-all restart.
const TakeoverWithin = 15 * time.Second

var takeoverRE = regexp.MustCompile(logTakeover + `: (\d+) license holder`)

// killAll injects a kill-all fault: the start of its episode.
func (n *Nemesis) killAll() *CrashEpisode {
	ce := &CrashEpisode{At: Now()}
	n.crashMu.Lock()
	n.crashes = append(n.crashes, ce)
	n.crashMu.Unlock()
	n.Cluster.KillAll()
	ce.Dead = Now()
	for i := range 3 {
		n.down[i] = true
	}
	n.record(FaultKillAll+": SIGKILL every member (lmgrd and vendord) at once", false)
	return ce
}

// restartAll starts the three members again on their state directories
// and watches their logs, from where they end now, for the first takeover
// (in the background: the nemesis goes on; CrashEpisodes waits for it).
func (n *Nemesis) restartAll(ce *CrashEpisode) {
	var offsets [3]int64
	for i := range 3 {
		offsets[i] = logSize(n.Cluster.LogPath(i))
	}
	for i := range 3 {
		if err := n.Cluster.Start(i); err != nil {
			ce.Problems = append(ce.Problems, fmt.Sprintf("restarting member %s: %v", n.Cluster.Net.Addr(i), err))
			continue
		}
		n.down[i] = false
	}
	ce.Restart = Now()
	n.record(FaultKillAll+": restart every member on its state directory", true)
	n.watchers.Add(1)
	go func() {
		defer n.watchers.Done()
		n.awaitTakeover(ce, offsets)
	}()
}

// awaitTakeover polls the members' logs from offsets until one has a
// takeover line, for at most TakeoverWithin, or until Close. It outlives
// the nemesis' own context: a restart at the end of the plan is still
// watched while the healed cluster serves the tail.
func (n *Nemesis) awaitTakeover(ce *CrashEpisode, offsets [3]int64) {
	keep := func(l string) bool { return strings.Contains(l, logTakeover) }
	deadline := time.Now().Add(TakeoverWithin)
	for {
		var found []string
		for i := range 3 {
			lines, err := logLines(n.Cluster.LogPath(i), offsets[i], -1, keep)
			if err != nil {
				n.crashMu.Lock()
				ce.Problems = append(ce.Problems, fmt.Sprintf("reading %s: %v", n.Cluster.LogPath(i), err))
				n.crashMu.Unlock()
				return
			}
			for _, l := range lines {
				found = append(found, n.Cluster.Net.Addr(i)+": "+l)
			}
		}
		now := Now()
		if len(found) > 0 {
			n.crashMu.Lock()
			ce.Takeovers, ce.TakeoverAt = found, now
			n.crashMu.Unlock()
			n.Logf("nemesis: %s: a master took over %.3fs after the restart: %s", FaultKillAll,
				time.Duration(now-ce.Restart).Seconds(), strings.Join(found, "; "))
			return
		}
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-n.closed:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the watches of kill-all restarts still looking for a
// takeover (a run that was interrupted) and waits for them.
func (n *Nemesis) Close() {
	n.closeOnce.Do(func() { close(n.closed) })
	n.watchers.Wait()
}

// CrashEpisodes waits until every kill-all episode's watch is over and
// returns them in order.
func (n *Nemesis) CrashEpisodes() []CrashEpisode {
	n.watchers.Wait()
	n.crashMu.Lock()
	defer n.crashMu.Unlock()
	out := make([]CrashEpisode, len(n.crashes))
	for i, ce := range n.crashes {
		out[i] = *ce
	}
	return out
}

// CheckCrashes (e): a crash of the whole triad loses no acknowledged
// holder. For every kill-all episode:
//
//   - the first master after the restart kept at least as many holders as
//     clients believed they held at the crash, and no more than the
//     feature's count. Held at the crash: believed at At by the rule of
//     check (a) (acknowledged before it, not yet checked in), except a
//     license whose checkin was invoked before Dead, which the members may
//     have committed before they died;
//   - every license believed held at the crash that is regained afterwards
//     is regained on the handle it had: the server rebound its holder
//     rather than granting a second license;
//   - a master took over at all (unless the run ended first).
//
// A Failed or a late Regained after the crash is check (b)'s.
func CheckCrashes(r *Report, h History, eps []CrashEpisode, licenses int) {
	st := &r.Crash
	if len(eps) == 0 {
		return
	}
	h = append(History(nil), h...)
	h.Sort()
	_, holds, end, _ := scan(h)
	add := func(ep CrashEpisode, text string) {
		r.Violations[CheckCrash] = append(r.Violations[CheckCrash], Violation{CheckCrash, ep.At,
			fmt.Sprintf("%s at %s: %s", FaultKillAll, r.stamp(ep.At), text)})
	}
	for _, ep := range eps {
		st.Episodes++
		for _, p := range ep.Problems {
			add(ep, p)
		}
		believed := 0
		var changed []string
		for _, hd := range holds {
			b, ok := hd.beliefAt(ep.At, end)
			if !ok || (b.byCheckin && b.to <= ep.Dead) {
				continue
			}
			believed++
			for _, rec := range hd.recs {
				if rec.At() <= ep.At {
					continue
				}
				if rec.Kind == KindOp || rec.Event == "failed" {
					break
				}
				if rec.Event == "regained" {
					if rec.Handle == b.handle {
						st.Reattached++
					} else {
						changed = append(changed, fmt.Sprintf("client %d license %d: handle %d, regained at %s on handle %d",
							hd.client, hd.lic, b.handle, r.stamp(rec.T), rec.Handle))
					}
					break
				}
			}
		}
		st.Believed += believed
		for i, c := range changed {
			if i == 5 {
				add(ep, fmt.Sprintf("%d more licenses regained on another handle", len(changed)-5))
				break
			}
			add(ep, c+": the server granted a second license instead of keeping the first")
		}
		if ep.Restart == 0 {
			st.Lines = append(st.Lines, fmt.Sprintf("at %s: %d held; the run ended during the pause", r.stamp(ep.At), believed))
			continue // the run ended during the pause
		}
		if ep.TakeoverAt == 0 {
			st.Lines = append(st.Lines, fmt.Sprintf("at %s: %d held; restart at %s, no takeover seen", r.stamp(ep.At), believed, r.stamp(ep.Restart)))
			add(ep, fmt.Sprintf("no member logged %q within %v of the restart", logTakeover, TakeoverWithin))
			continue
		}
		took := time.Duration(ep.TakeoverAt - ep.Restart)
		st.MaxTakeover = max(st.MaxTakeover, took)
		st.Lines = append(st.Lines, fmt.Sprintf("at %s: %d held; restart at %s, takeover %v later: %s",
			r.stamp(ep.At), believed, r.stamp(ep.Restart), took.Round(time.Millisecond), strings.Join(ep.Takeovers, "; ")))
		first := true
		for _, l := range ep.Takeovers {
			m := takeoverRE.FindStringSubmatch(l)
			if m == nil {
				add(ep, fmt.Sprintf("cannot read the takeover line %q", l))
				continue
			}
			kept, _ := strconv.Atoi(m[1])
			if first {
				st.Kept += kept
				first = false
			}
			if kept < believed {
				add(ep, fmt.Sprintf("clients held %d acknowledged licenses at the crash, the first master after the restart kept %d holders (%d lost): %s",
					believed, kept, believed-kept, l))
			}
			if kept > licenses {
				add(ep, fmt.Sprintf("the first master after the restart kept %d holders, the feature has %d: %s", kept, licenses, l))
			}
		}
	}
}

package chaos

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hand-made histories for the checker. Times are in milliseconds (ms()).
// A builder keeps them short: grant(client, lic, inv, comp) is a granted
// checkout, checkin(client, lic, inv, comp), event(client, lic, kind, t),
// fault(t, what, quorum, restore) a nemesis action, and end(t).

func ms(n int) int64 { return int64(n) * int64(time.Millisecond) }

func grant(c, l, inv, comp int) Record {
	return Record{Kind: KindOp, Client: c, Lic: l, Op: "checkout", Inv: ms(inv), Comp: ms(comp), Result: Granted}
}

func deny(c, inv, comp int) Record {
	return Record{Kind: KindOp, Client: c, Op: "checkout", Inv: ms(inv), Comp: ms(comp), Result: Denied, Code: -4}
}

func fail(c, inv, comp int) Record {
	return Record{Kind: KindOp, Client: c, Op: "checkout", Inv: ms(inv), Comp: ms(comp), Result: Failure, Code: -20}
}

func checkin(c, l, inv, comp int) Record {
	return Record{Kind: KindOp, Client: c, Lic: l, Op: "checkin", Inv: ms(inv), Comp: ms(comp), Result: OK}
}

func event(c, l int, kind string, t int) Record {
	return Record{Kind: KindEvent, Client: c, Lic: l, Event: kind, T: ms(t)}
}

func fault(t int, what string, quorum, restore bool) Record {
	return Record{Kind: KindFault, T: ms(t), Fault: what, Quorum: quorum, Restore: restore}
}

func end(t int) Record { return Record{Kind: KindEnd, T: ms(t)} }

var testOpts = CheckOptions{Licenses: 2, RegainWithin: 3 * time.Second, ResumeWithin: 2 * time.Second}

func TestCheckLimit(t *testing.T) {
	tests := []struct {
		name string
		h    History
		want int // violations of (a)
		max  int // most holders at once
	}{
		{"two holders of two", History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), checkin(1, 1, 100, 110), checkin(2, 1, 100, 110), end(200)}, 0, 2},
		{"three at once", History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), grant(3, 1, 20, 30), checkin(1, 1, 100, 110), end(200)}, 1, 3},
		{"hand-over inside the overlap of checkin and checkout is fine",
			// client 3's checkout overlaps client 1's checkin: the server may
			// have freed before it granted.
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), checkin(1, 1, 100, 130), grant(3, 1, 90, 120), end(200)}, 0, 2},
		{"a grant completing before the checkin starts is a violation",
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), grant(3, 1, 50, 90), checkin(1, 1, 100, 130), end(200)}, 1, 3},
		{"errors and denials hold nothing",
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), fail(3, 20, 30), deny(4, 20, 30), end(200)}, 0, 2},
		{"lost ends the belief, regained starts it again",
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), event(1, 1, "lost", 50), grant(3, 1, 60, 70), checkin(3, 1, 80, 90),
				event(1, 1, "regained", 95), checkin(1, 1, 150, 160), end(200)}, 0, 2},
		{"a client that misses its server's death still believes",
			// Client 1 learns of the loss at 500 while client 3 was granted at 70.
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), grant(3, 1, 60, 70), event(1, 1, "lost", 500), end(600)}, 1, 3},
		{"held to the end counts to the end",
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), checkin(2, 1, 50, 60), grant(3, 1, 70, 80), grant(4, 1, 90, 100), end(200)}, 1, 3},
		{"two separate excesses are two violations",
			History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), grant(3, 1, 20, 30), checkin(3, 1, 40, 50),
				grant(4, 1, 60, 70), checkin(4, 1, 80, 90), end(200)}, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h, testOpts)
			assert.Equal(t, tt.want, r.Count(CheckLimit), "violations: %v", r.Violations[CheckLimit])
			assert.Equal(t, tt.max, r.MaxHolders)
		})
	}
}

func TestCheckSurvive(t *testing.T) {
	tests := []struct {
		name string
		h    History
		want int
	}{
		{"regained in time", History{grant(1, 1, 0, 10), event(1, 1, "lost", 1000), event(1, 1, "regained", 2500), checkin(1, 1, 5000, 5010), end(9000)}, 0},
		{"regained too late", History{grant(1, 1, 0, 10), event(1, 1, "lost", 1000), event(1, 1, "regained", 4500), checkin(1, 1, 5000, 5010), end(9000)}, 1},
		{"failed", History{grant(1, 1, 0, 10), event(1, 1, "lost", 1000), event(1, 1, "failed", 1500), checkin(1, 1, 5000, 5010), end(9000)}, 1},
		{"never regained", History{grant(1, 1, 0, 10), event(1, 1, "lost", 1000), end(9000)}, 1},
		{"lost just before the end is not judged", History{grant(1, 1, 0, 10), event(1, 1, "lost", 8000), end(9000)}, 0},
		{"checked in while waiting, in time", History{grant(1, 1, 0, 10), event(1, 1, "lost", 1000), checkin(1, 1, 2000, 2000), end(9000)}, 0},
		{"checked in while waiting, too late", History{grant(1, 1, 0, 10), event(1, 1, "lost", 1000), checkin(1, 1, 4500, 4500), end(9000)}, 1},
		{"no quorum: the clock starts when it returns",
			History{fault(500, "kill-two", false, false), grant(1, 1, 0, 10), event(1, 1, "lost", 1000),
				fault(6000, "restart", true, true), event(1, 1, "regained", 8500), end(20000)}, 0},
		{"no quorum, then too slow after it returns",
			History{fault(500, "kill-two", false, false), grant(1, 1, 0, 10), event(1, 1, "lost", 1000),
				fault(6000, "restart", true, true), event(1, 1, "regained", 9500), end(20000)}, 1},
		{"a quorum too short to count is skipped",
			History{fault(500, "x", false, false), grant(1, 1, 0, 10), event(1, 1, "lost", 1000), fault(2000, "restart", true, true),
				fault(3000, "y", false, false), fault(7000, "restart", true, true), event(1, 1, "regained", 9500), end(20000)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h, testOpts)
			assert.Equal(t, tt.want, r.Count(CheckSurvive), "violations: %v", r.Violations[CheckSurvive])
		})
	}
}

func TestCheckResume(t *testing.T) {
	tests := []struct {
		name        string
		h           History
		want        int
		judged      int
		slowFailovr int
	}{
		{"answered soon after the restart",
			History{fault(1000, "kill-two", false, false), fail(1, 1100, 1200), fault(5000, "restart", true, true),
				fail(1, 5100, 5200), deny(2, 5900, 6000), end(20000)}, 0, 1, 0},
		{"a grant counts as well as a denial",
			History{fault(5000, "restart", true, true), grant(1, 1, 6000, 6500), end(20000)}, 0, 1, 0},
		{"only errors for too long",
			History{fault(1000, "kill-two", false, false), fault(5000, "restart", true, true), fail(1, 5100, 5200),
				fail(1, 6000, 6100), deny(2, 7000, 7500), end(20000)}, 1, 1, 0},
		{"no answer at all",
			History{fault(5000, "heal", true, true), fail(1, 5100, 5200), end(20000)}, 1, 1, 0},
		{"an answer to a checkout invoked before the heal does not count",
			History{fault(5000, "heal", true, true), deny(1, 4000, 5100), deny(1, 8000, 8100), end(20000)}, 1, 1, 0},
		{"a regain after a later loss counts",
			History{grant(1, 1, 0, 10), fault(5000, "heal", true, true), event(1, 1, "lost", 5100), event(1, 1, "regained", 5500), end(20000)}, 0, 1, 0},
		{"next action too soon: skipped",
			History{fault(5000, "heal", true, true), fault(6000, "kill-two", false, false), end(20000)}, 0, 0, 0},
		{"a slow failover is only reported",
			History{fault(5000, "kill-master", true, false), deny(1, 8000, 8100), end(20000)}, 0, 0, 1},
		{"quorum back without a heal flag (the first restart after all died) is judged",
			History{fault(1000, "kill", false, false), fault(5000, "restart", true, false), end(20000)}, 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h, testOpts)
			assert.Equal(t, tt.want, r.Count(CheckResume), "violations: %v", r.Violations[CheckResume])
			assert.Equal(t, tt.judged, r.ResumeChecked)
			assert.Len(t, r.SlowFailovers, tt.slowFailovr)
		})
	}
}

func TestHistoryRoundTripAndReport(t *testing.T) {
	var buf bytes.Buffer
	rec := NewRecorder(&buf)
	in := History{grant(1, 1, 0, 10), grant(2, 1, 0, 10), grant(3, 1, 20, 30), fault(40, "kill-master", true, false), end(200)}
	for _, r := range in {
		rec.Add(r)
	}
	require.NoError(t, rec.Flush())
	buf.WriteString(`{"k":"op","c":4,"op":"chec`) // a writer killed mid-line
	out, err := ReadHistory(&buf)
	require.NoError(t, err)
	assert.Equal(t, in, out)

	r := Check(out, testOpts)
	var text strings.Builder
	r.Print(&text, 5)
	assert.Contains(t, text.String(), "checkouts 3 (granted 3, denied 0, errors 0)")
	assert.Contains(t, text.String(), "3 licenses held at once, the feature has 2")
	assert.Equal(t, 1, r.Faults)

	_, err = ReadHistory(strings.NewReader("{bad\n{}\n"))
	assert.Error(t, err, "a bad line that is not the last one is an error")
}

func TestPlanIsSeededAndSpaced(t *testing.T) {
	a := Plan(42, 10*time.Minute, AllFaults, 2500*time.Millisecond)
	b := Plan(42, 10*time.Minute, AllFaults, 2500*time.Millisecond)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, Plan(43, 10*time.Minute, AllFaults, 2500*time.Millisecond))
	var total time.Duration
	seen := map[string]bool{}
	for _, e := range a {
		assert.GreaterOrEqual(t, e.Quiet, 2500*time.Millisecond)
		if e.Fault == FaultKillAll {
			assert.GreaterOrEqual(t, e.Hold, KillAllPause[0], "a kill-all's pause")
			assert.Less(t, e.Hold, KillAllPause[1], "a kill-all's pause")
		} else {
			assert.GreaterOrEqual(t, e.Hold, 2500*time.Millisecond)
		}
		total += e.Quiet + e.Hold + e.Hold2
		seen[e.Fault] = true
	}
	assert.LessOrEqual(t, total, 10*time.Minute)
	assert.Len(t, seen, len(AllFaults), "ten minutes draw every kind")
}

// withHandle sets a grant's or a regain's handle.
func withHandle(r Record, h uint64) Record { r.Handle = h; return r }

func TestCheckCrashes(t *testing.T) {
	took := func(n int) []string {
		return []string{"10.0.0.1: 17:00:02 (demo) Took over as master: " + strconv.Itoa(n) + " license holder(s) kept"}
	}
	crash := func(at, restart, takeover, kept int) CrashEpisode {
		return CrashEpisode{At: ms(at), Dead: ms(at + 2), Restart: ms(restart), TakeoverAt: ms(takeover), Takeovers: took(kept)}
	}
	// Clients 1 and 2 hold at the crash (1000, all dead at 1002); client 3
	// checked in before it, client 4 was granted after it, client 5 had
	// lost its license before it (an earlier fault) and not regained it,
	// client 6 checked in while the members were being killed (its release
	// may have been committed).
	base := History{
		withHandle(grant(1, 1, 0, 10), 11), withHandle(grant(2, 1, 0, 10), 12),
		withHandle(grant(3, 1, 0, 10), 13), checkin(3, 1, 900, 1100),
		withHandle(grant(5, 1, 0, 10), 15), event(5, 1, "lost", 500),
		withHandle(grant(6, 1, 0, 10), 16), checkin(6, 1, 1001, 1002),
		fault(1001, "kill-all: SIGKILL", false, false),
		event(1, 1, "lost", 1002), event(2, 1, "lost", 1002),
		fault(2000, "kill-all: restart", true, true),
		withHandle(grant(4, 1, 3100, 3110), 14),
		end(9000),
	}
	tests := []struct {
		name       string
		h          History
		eps        []CrashEpisode
		want       int
		believed   int
		reattached int
	}{
		{"both regain their own handles; the master kept them and an orphan",
			append(History{withHandle(event(1, 1, "regained", 3000), 11), withHandle(event(2, 1, "regained", 3000), 12)}, base...),
			[]CrashEpisode{crash(1000, 2000, 2900, 3)}, 0, 2, 2},
		{"one checked in while waiting: still judged by the count",
			append(History{withHandle(event(1, 1, "regained", 3000), 11), checkin(2, 1, 1500, 1500)}, base...),
			[]CrashEpisode{crash(1000, 2000, 2900, 2)}, 0, 2, 1},
		{"the first master kept fewer holders than were acknowledged",
			append(History{withHandle(event(1, 1, "regained", 3000), 11), withHandle(event(2, 1, "regained", 3000), 12)}, base...),
			[]CrashEpisode{crash(1000, 2000, 2900, 1)}, 1, 2, 2},
		{"a license regained on another handle",
			append(History{withHandle(event(1, 1, "regained", 3000), 11), withHandle(event(2, 1, "regained", 3000), 99)}, base...),
			[]CrashEpisode{crash(1000, 2000, 2900, 2)}, 1, 2, 1},
		{"more holders kept than licenses",
			base, []CrashEpisode{crash(1000, 2000, 2900, 4)}, 1, 2, 0},
		{"no takeover seen after the restart",
			base, []CrashEpisode{{At: ms(1000), Dead: ms(1002), Restart: ms(2000)}}, 1, 2, 0},
		{"the run ended during the pause: only the handles are judged",
			base, []CrashEpisode{{At: ms(1000), Dead: ms(1002)}}, 0, 2, 0},
		{"a harness problem is a violation",
			base, []CrashEpisode{{At: ms(1000), Dead: ms(1002), Problems: []string{"restarting member 10.0.0.2: boom"}}}, 1, 2, 0},
		{"an unreadable takeover line is a violation",
			base, []CrashEpisode{{At: ms(1000), Dead: ms(1002), Restart: ms(2000), TakeoverAt: ms(2900), Takeovers: []string{"Took over as master"}}}, 1, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h, testOpts)
			CheckCrashes(r, tt.h, tt.eps, 3)
			assert.Equal(t, tt.want, r.Count(CheckCrash), "violations: %v", r.Violations[CheckCrash])
			assert.Equal(t, tt.believed, r.Crash.Believed)
			assert.Equal(t, tt.reattached, r.Crash.Reattached)
			assert.Equal(t, len(tt.eps), r.Crash.Episodes)
			var text strings.Builder
			r.Print(&text, 5)
			assert.Contains(t, text.String(), "whole-triad crashes 1:")
		})
	}
}

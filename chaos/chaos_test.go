package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireHoldersSurviveFailover makes check (b) fail the short test. It is
// true since replication: set it to false only to look at a build without
// replication, where a failover makes every holder check out again on an
// empty new master and some find the licenses taken.
const requireHoldersSurviveFailover = true

// enrolHandEditBug: a member cut off from the triad whose copy of a
// license file was edited by hand meanwhile used to enrol that edit when
// it rejoined, over what the majority side enrolled during the partition
// (docs/chaos.md, "Check (f)"). Fixed: each change carries the content it
// was made from, and one made from a copy the triad has since changed is
// refused and kept aside. While true, the short test makes no hand edit.
const enrolHandEditBug = false

// TestChaosShort is the short form of scripts/chaos: 200 clients, 50
// licenses, 45 s of nemesis over every fault kind, starting with a rogue
// peer without the key, an impostor with a stale key, a crash of the
// whole triad and two enrolments during a partition, one a file dropped
// into a member, the other lmenroll (so that checks (d), (e) and (f) are
// exercised on every run). It needs root and ip netns; the seed is
// printed, and CHAOS_SEED=N replays a run's plan.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: skipped with -short")
	}
	if why := HaveNetns(); why != "" {
		t.Skipf("chaos: needs root and network namespaces (ip netns): %s", why)
	}
	t.Cleanup(RemoveOwn)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./lmgrd", "./vendord", "./lmutil", "./chaos/cmd/lmchaos")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	dir, err := os.MkdirTemp("", "lmchaos-short-")
	require.NoError(t, err)
	o := DefaultOptions()
	o.Bin, o.Dir = bin, dir
	o.Duration = 45 * time.Second
	o.Tail = 4 * time.Second
	o.First = []string{FaultRogueNoKey, FaultRogueStaleKey, FaultKillAll, FaultEnrolPartition, FaultEnrolPartition}
	if enrolHandEditBug {
		o.EnrolHandEdits = false
		t.Logf("enrol-partition: no hand edit on the cut-off member (enrolHandEditBug: such an edit is enrolled over the majority's)")
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		_, err := fmt.Sscan(s, &o.Seed)
		require.NoError(t, err, "CHAOS_SEED")
	}
	o.Out = &lineLogger{t: t}
	t.Logf("seed %d; logs and history in %s", o.Seed, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	rep, err := Run(ctx, o)
	require.NoError(t, err)

	assert.GreaterOrEqual(t, rep.Grants, 200, "the workload hardly ran")
	assert.Positive(t, rep.Denials, "the feature is contended: some checkouts are denied")
	assert.Positive(t, rep.Faults, "the nemesis injected nothing")
	assert.Zero(t, rep.Count(CheckLimit), "check %s", CheckLimit)
	assert.Zero(t, rep.Count(CheckResume), "check %s", CheckResume)
	assert.Zero(t, rep.Count(CheckRogue), "check %s", CheckRogue)
	assert.Positive(t, rep.Rogue.Episodes[FaultRogueNoKey], "no rogue-nokey episode")
	assert.Positive(t, rep.Rogue.Episodes[FaultRogueStaleKey], "no rogue-stalekey episode")
	assert.Positive(t, rep.Rogue.Attempts[TryPeerRaw], "the rogue made no attempt")
	assert.Zero(t, rep.Count(CheckCrash), "check %s", CheckCrash)
	assert.Positive(t, rep.Crash.Episodes, "no kill-all episode")
	assert.Positive(t, rep.Crash.Believed, "the kill-all crashed a triad nobody held a license from")
	assert.Zero(t, rep.Count(CheckEnrol), "check %s", CheckEnrol)
	assert.Positive(t, rep.Enrol.Judged, "no enrol-partition episode was judged")
	assert.Positive(t, rep.Enrol.Drops, "no file dropped into a member during a partition")
	if rep.Enrol.Lmenrolls == 0 {
		t.Logf("the plan's second enrol-partition (lmenroll) did not fit in the nemesis' time")
	}
	if rep.Crash.Reattached == 0 {
		t.Logf("no license held at the kill-all was held long enough to reattach after it (only the holder count was judged)")
	}
	if n := rep.Count(CheckSurvive); n > 0 {
		if requireHoldersSurviveFailover {
			t.Errorf("check %s: %d violations", CheckSurvive, n)
		} else {
			t.Logf("check %s: %d violations (report-only: requireHoldersSurviveFailover is false)", CheckSurvive, n)
		}
	}
	if !t.Failed() {
		os.RemoveAll(dir)
	} else {
		t.Logf("kept %s (member logs, history.jsonl, nemesis.jsonl)", dir)
	}
}

// lineLogger sends Run's output to t.Log, one line at a time.
type lineLogger struct {
	t    *testing.T
	mu   sync.Mutex
	part string
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part += string(p)
	for {
		i := strings.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Log(l.part[:i])
		l.part = l.part[i+1:]
	}
}

package enrol

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecide(t *testing.T) {
	a1, a2, b := doc("A1"), doc("A2"), doc("B")
	set := &Set{Initialized: true, Files: map[string]Doc{"a.lic": a1}}
	for _, tc := range []struct {
		name    string
		in      PlanInput
		propose *Entry
		writes  []Write
		synced  map[string]string
	}{
		{
			name:    "first enrolment by the master",
			in:      PlanInput{Set: NewSet(), Local: map[string]Doc{"b.lic": b, "a.lic": a1}, Master: true, Self: 0, Host: "h0"},
			propose: &Entry{Proposer: 0, Host: "h0", Init: true, Files: []File{{Name: "a.lic", Doc: a1}, {Name: "b.lic", Doc: b}}},
			synced:  map[string]string{},
		},
		{
			name:   "a standby waits for the first enrolment",
			in:     PlanInput{Set: NewSet(), Local: map[string]Doc{"a.lic": a1}},
			synced: map[string]string{},
		},
		{
			name:   "in sync",
			in:     PlanInput{Set: set, Local: map[string]Doc{"a.lic": a1}},
			synced: map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:    "edited here while running: enrol it",
			in:      PlanInput{Set: set, Local: map[string]Doc{"a.lic": a2}, Synced: map[string]string{"a.lic": a1.Digest()}, Self: 1, Host: "h1"},
			propose: &Entry{Proposer: 1, Host: "h1", Files: []File{{Name: "a.lic", Base: a1.Digest(), Doc: a2}}},
			synced:  map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:    "dropped here while running: enrol it",
			in:      PlanInput{Set: set, Local: map[string]Doc{"a.lic": a1, "b.lic": b}, Synced: map[string]string{"a.lic": a1.Digest()}, Self: 2},
			propose: &Entry{Proposer: 2, Files: []File{{Name: "b.lic", Base: BaseNone, Doc: b}}},
			synced:  map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:    "removed here while running: enrol the removal",
			in:      PlanInput{Set: set, Local: map[string]Doc{}, Synced: map[string]string{"a.lic": a1.Digest()}},
			propose: &Entry{Files: []File{{Name: "a.lic", Removed: true, Base: a1.Digest()}}},
			synced:  map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:   "behind: take the set's new content",
			in:     PlanInput{Set: &Set{Initialized: true, Files: map[string]Doc{"a.lic": a2}}, Local: map[string]Doc{"a.lic": a1}, Synced: map[string]string{"a.lic": a1.Digest()}},
			writes: []Write{{Name: "a.lic", Doc: a2}},
			synced: map[string]string{"a.lic": a2.Digest()},
		},
		{
			name:   "behind: a file enrolled elsewhere is written here",
			in:     PlanInput{Set: &Set{Initialized: true, Files: map[string]Doc{"a.lic": a1, "b.lic": b}}, Local: map[string]Doc{"a.lic": a1}, Synced: map[string]string{"a.lic": a1.Digest()}},
			writes: []Write{{Name: "b.lic", Doc: b}},
			synced: map[string]string{"a.lic": a1.Digest(), "b.lic": b.Digest()},
		},
		{
			name:   "behind: a file removed elsewhere is kept aside here",
			in:     PlanInput{Set: &Set{Initialized: true, Files: map[string]Doc{}}, Local: map[string]Doc{"a.lic": a1}, Synced: map[string]string{"a.lic": a1.Digest()}},
			writes: []Write{{Name: "a.lic", Remove: true, KeepAside: true}},
			synced: map[string]string{},
		},
		{
			name:   "edited while down: brought in line, the copy kept aside",
			in:     PlanInput{Set: set, Local: map[string]Doc{"a.lic": a2, "b.lic": b}, Synced: map[string]string{"a.lic": a1.Digest()}, Startup: true},
			writes: []Write{{Name: "a.lic", Doc: a1, KeepAside: true}, {Name: "b.lic", Remove: true, KeepAside: true}},
			synced: map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:   "an edit the set refused as a conflict: kept aside, the set's content taken",
			in:     PlanInput{Set: set, Local: map[string]Doc{"a.lic": a2}, Synced: map[string]string{"a.lic": doc("A0").Digest()}, Refused: map[string]string{"a.lic": a2.Digest()}},
			writes: []Write{{Name: "a.lic", Doc: a1, KeepAside: true}},
			synced: map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:   "a refused removal: the set's file comes back",
			in:     PlanInput{Set: set, Local: map[string]Doc{}, Synced: map[string]string{"a.lic": doc("A0").Digest()}, Refused: map[string]string{"a.lic": RemovedDigest}},
			writes: []Write{{Name: "a.lic", Doc: a1}},
			synced: map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:   "a member that never synced and differs at startup is brought in line",
			in:     PlanInput{Set: set, Local: map[string]Doc{"a.lic": a2}, Startup: true},
			writes: []Write{{Name: "a.lic", Doc: a1, KeepAside: true}},
			synced: map[string]string{"a.lic": a1.Digest()},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.in)
			assert.Equal(t, tc.propose, p.Propose)
			assert.Equal(t, tc.writes, p.Writes)
			assert.Equal(t, tc.synced, p.Synced)
		})
	}
}

// Two members edit the same file at once: both propose against the same
// base, the log orders them, the first stands everywhere and the second is
// refused; its proposer keeps its copy aside and takes the first.
func TestDecideConvergesOnConcurrentEdits(t *testing.T) {
	a0, ax, ay := doc("A0"), doc("AX"), doc("AY")
	set := &Set{Initialized: true, Files: map[string]Doc{"a.lic": a0}}
	synced := map[string]string{"a.lic": a0.Digest()}
	px := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ax}, Synced: synced, Self: 0})
	py := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ay}, Synced: synced, Self: 1})
	changed, conflicts, err := set.Apply(*px.Propose)
	assert.NoError(t, err)
	assert.Equal(t, []string{"a.lic"}, changed)
	assert.Empty(t, conflicts)
	changed, conflicts, err = set.Apply(*py.Propose)
	assert.NoError(t, err)
	assert.Empty(t, changed, "the second edit was made against a base the set has left")
	assert.Equal(t, []File{{Name: "a.lic", Base: a0.Digest(), Doc: ay}}, conflicts)
	assert.Equal(t, ax, set.Files["a.lic"])

	// Member 0 is in line; member 1 keeps its copy aside and takes AX.
	p0 := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ax}, Synced: synced, Self: 0})
	assert.Nil(t, p0.Propose)
	assert.Empty(t, p0.Writes)
	p1 := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ay}, Synced: synced, Self: 1,
		Refused: map[string]string{"a.lic": ay.Digest()}})
	assert.Nil(t, p1.Propose)
	assert.Equal(t, []Write{{Name: "a.lic", Doc: ax, KeepAside: true}}, p1.Writes)
}

// A member cut off while the others enrolled a change edits its own copy:
// after the heal its edit, made against the old content, is refused rather
// than written over the newer one.
func TestEditMadeWhileCutOffDoesNotOverwriteTheMajority(t *testing.T) {
	old, majority, hand := doc("OLD"), doc("MAJORITY"), doc("HAND")
	set := &Set{Initialized: true, Files: map[string]Doc{"a.lic": old}}
	_, _, err := set.Apply(Entry{Proposer: 0, Files: []File{{Name: "a.lic", Base: old.Digest(), Doc: majority}}})
	assert.NoError(t, err)
	cutOff := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": hand}, Synced: map[string]string{"a.lic": old.Digest()}, Self: 2})
	_, conflicts, err := set.Apply(*cutOff.Propose)
	assert.NoError(t, err)
	assert.Len(t, conflicts, 1)
	assert.Equal(t, majority, set.Files["a.lic"], "the majority's change stands")
}

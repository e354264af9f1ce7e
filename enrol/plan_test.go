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
			propose: &Entry{Proposer: 1, Host: "h1", Files: []File{{Name: "a.lic", Doc: a2}}},
			synced:  map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:    "dropped here while running: enrol it",
			in:      PlanInput{Set: set, Local: map[string]Doc{"a.lic": a1, "b.lic": b}, Synced: map[string]string{"a.lic": a1.Digest()}, Self: 2},
			propose: &Entry{Proposer: 2, Files: []File{{Name: "b.lic", Doc: b}}},
			synced:  map[string]string{"a.lic": a1.Digest()},
		},
		{
			name:    "removed here while running: enrol the removal",
			in:      PlanInput{Set: set, Local: map[string]Doc{}, Synced: map[string]string{"a.lic": a1.Digest()}},
			propose: &Entry{Files: []File{{Name: "a.lic", Removed: true}}},
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

// Two members edit the same file at once: both propose, the log orders
// them, and every member ends with the later one without proposing again.
func TestDecideConvergesOnConcurrentEdits(t *testing.T) {
	a0, ax, ay := doc("A0"), doc("AX"), doc("AY")
	set := &Set{Initialized: true, Files: map[string]Doc{"a.lic": a0}}
	synced := map[string]string{"a.lic": a0.Digest()}
	px := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ax}, Synced: synced, Self: 0})
	py := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ay}, Synced: synced, Self: 1})
	for _, e := range []*Entry{px.Propose, py.Propose} {
		_, err := set.Apply(*e)
		assert.NoError(t, err)
	}
	// Member 0 had its own edit applied first, then member 1's: it takes AY.
	p0 := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ax}, Synced: map[string]string{"a.lic": ax.Digest()}, Self: 0})
	assert.Nil(t, p0.Propose)
	assert.Equal(t, []Write{{Name: "a.lic", Doc: ay}}, p0.Writes)
	p1 := Decide(PlanInput{Set: set, Local: map[string]Doc{"a.lic": ay}, Synced: synced, Self: 1})
	assert.Nil(t, p1.Propose)
	assert.Empty(t, p1.Writes)
}

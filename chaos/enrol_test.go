package chaos

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	enrolBase  = "VENDOR demo\nFEATURE chaos demo 1.0 permanent 50 SIGN=0\n"
	enrolOld   = "FEATURE chaos_1 demo 1.0 permanent 2 SIGN=0\n"
	enrolNew   = "FEATURE chaos_2 demo 1.0 permanent 2 SIGN=0\n"
	enrolByHnd = "FEATURE chaos_2 demo 1.0 permanent 9 SIGN=0\n"
)

// dirsOf builds three members' license directories, each holding files;
// change then alters them.
func dirsOf(files map[string]string, change func(d []LicenseDirState)) []LicenseDirState {
	d := make([]LicenseDirState, 3)
	for i := range d {
		d[i] = LicenseDirState{Member: "10.0.0." + string(rune('1'+i)), Files: maps.Clone(files), Asides: map[string]string{}}
	}
	if change != nil {
		change(d)
	}
	return d
}

func TestCheckEnrolments(t *testing.T) {
	want := map[string]string{"chaos.lic": enrolBase, "chaos1.lic": enrolOld, "chaos2.lic": enrolNew}
	// Episode 2: chaos2.lic enrolled while member 0 (10.0.0.1) was cut off.
	ep := func(handEdit bool, dirs []LicenseDirState) EnrolEpisode {
		e := EnrolEpisode{N: 2, At: ms(1000), Cut: 0, Addr: "10.0.0.1", How: EnrolDrop, Via: "10.0.0.2",
			File: "chaos2.lic", New: true, Feature: "chaos_2", Want: want, Enrolled: ms(1500), Heal: ms(4000),
			Converged: ms(4600), Dirs: dirs}
		if handEdit {
			e.HandEdit = enrolByHnd
		}
		return e
	}
	kept := func(d []LicenseDirState) { d[0].Asides["chaos2.lic.local-20261128-120000"] = enrolByHnd }
	notLine := func(e EnrolEpisode) EnrolEpisode { e.Converged = 0; return e }
	tests := []struct {
		name     string
		eps      []EnrolEpisode
		want     int
		has      string // in the first violation
		kept     int
		judged   int
		finalLen int
	}{
		{"every member in line", []EnrolEpisode{ep(false, dirsOf(want, nil))}, 0, "", 0, 1, 0},
		{"in line, the hand edit kept aside", []EnrolEpisode{ep(true, dirsOf(want, kept))}, 0, "", 1, 1, 0},
		{"the file never reached the cut-off member",
			[]EnrolEpisode{notLine(ep(false, dirsOf(want, func(d []LicenseDirState) { delete(d[0].Files, "chaos2.lic") })))},
			1, "10.0.0.1 has no chaos2.lic (the file enrolled during the partition): lost", 0, 1, 0},
		{"an earlier enrolment lost on one member",
			[]EnrolEpisode{notLine(ep(false, dirsOf(want, func(d []LicenseDirState) { delete(d[2].Files, "chaos1.lic") })))},
			1, "10.0.0.3 has no chaos1.lic (enrolled earlier): lost", 0, 1, 0},
		{"the hand edit enrolled everywhere, nothing kept aside",
			[]EnrolEpisode{notLine(ep(true, dirsOf(want, func(d []LicenseDirState) {
				for i := range d {
					d[i].Files["chaos2.lic"] = enrolByHnd
				}
			})))},
			4, "10.0.0.1's chaos2.lic holds the hand edit made on 10.0.0.1 while it was cut off", 0, 1, 0},
		{"a copy kept aside that is not the hand edit",
			[]EnrolEpisode{notLine(ep(true, dirsOf(want, func(d []LicenseDirState) { d[0].Asides["chaos2.lic.local-1"] = "other" })))},
			1, "10.0.0.1 kept no copy of its hand edit of chaos2.lic aside", 0, 1, 0},
		{"other content on one member",
			[]EnrolEpisode{notLine(ep(false, dirsOf(want, func(d []LicenseDirState) { d[1].Files["chaos2.lic"] = "FEATURE x demo 1.0 permanent 1 SIGN=0\n" })))},
			1, "10.0.0.2's chaos2.lic (the file enrolled during the partition) is not what was enrolled", 0, 1, 0},
		{"a file never enrolled",
			[]EnrolEpisode{notLine(ep(false, dirsOf(want, func(d []LicenseDirState) { d[1].Files["junk.lic"] = "x" })))},
			1, "10.0.0.2 has junk.lic, which was never enrolled", 0, 1, 0},
		{"a file whose lmenroll failed is not judged, the failure is",
			[]EnrolEpisode{func() EnrolEpisode {
				e := ep(false, dirsOf(want, func(d []LicenseDirState) { delete(d[1].Files, "chaos2.lic") }))
				e.Unsure, e.Enrolled, e.How = []string{"chaos2.lic"}, 0, EnrolLmenroll
				e.Problems = []string{"chaos2.lic, sent with lmenroll through 10.0.0.2, was not on both members"}
				return e
			}()},
			1, "sent with lmenroll", 0, 1, 0},
		{"in line but the feature not served",
			[]EnrolEpisode{func() EnrolEpisode { e := notLine(ep(false, dirsOf(want, nil))); e.Checkout = "checkout: -5"; return e }()},
			1, "checking chaos_2 out through the triad: checkout: -5", 0, 1, 0},
		{"cut short by the end of the run: left to the last look",
			[]EnrolEpisode{func() EnrolEpisode {
				e := notLine(ep(true, dirsOf(want, func(d []LicenseDirState) { delete(d[0].Files, "chaos2.lic") })))
				e.Heal = 0
				return e
			}(), {Final: true, Cut: -1, Want: want, Heal: ms(9000), Converged: ms(9000), Dirs: dirsOf(want, nil)}},
			0, "", 0, 0, 3},
		{"the last look finds a loss",
			[]EnrolEpisode{ep(false, dirsOf(want, nil)),
				{Final: true, Cut: -1, Want: want, Heal: ms(9000), Dirs: dirsOf(want, func(d []LicenseDirState) { delete(d[1].Files, "chaos1.lic") })}},
			1, "at the end of the run: 10.0.0.2 has no chaos1.lic (enrolled earlier): lost", 0, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(History{end(20000)}, testOpts)
			CheckEnrolments(r, tt.eps)
			vs := r.Violations[CheckEnrol]
			assert.Len(t, vs, tt.want, "violations: %v", vs)
			if tt.has != "" && len(vs) > 0 {
				assert.Contains(t, vs[0].Text, tt.has)
			}
			assert.Equal(t, tt.kept, r.Enrol.KeptAside)
			assert.Equal(t, tt.judged, r.Enrol.Judged)
			assert.Equal(t, tt.finalLen, r.Enrol.FinalFiles)
			var text strings.Builder
			r.Print(&text, 5)
			assert.Contains(t, text.String(), "enrolments during a partition 1 ")
			assert.Contains(t, text.String(), "violations f: enrolment converges:")
		})
	}
}

func TestRebaseWant(t *testing.T) {
	want := map[string]string{"chaos.lic": enrolBase, "chaos1.lic": enrolOld, "chaos2.lic": enrolNew}
	// The three agree on the hand edit of chaos2.lic, on a file never
	// expected, and on chaos3.lic (unsure) being absent; they disagree on
	// chaos1.lic.
	dirs := dirsOf(want, func(d []LicenseDirState) {
		for i := range d {
			d[i].Files["chaos2.lic"] = enrolByHnd
			d[i].Files["extra.lic"] = "x"
		}
		delete(d[1].Files, "chaos1.lic")
	})
	got, unsure := rebaseWant(want, []string{"chaos3.lic"}, dirs)
	assert.Equal(t, map[string]string{"chaos.lic": enrolBase, "chaos1.lic": enrolOld, "chaos2.lic": enrolByHnd, "extra.lic": "x"}, got)
	assert.Empty(t, unsure)
	assert.Equal(t, enrolNew, want["chaos2.lic"], "the episode's own want is left as it was")

	// A directory that could not be read changes nothing.
	dirs[2].Err = "permission denied"
	got, unsure = rebaseWant(want, []string{"chaos3.lic"}, dirs)
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"chaos3.lic"}, unsure)
}

func TestReadLicenseDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("chaos.lic", "SERVER 10.0.0.1 ANY 27000\nSERVER 10.0.0.2 ANY 27000\nSERVER 10.0.0.3 ANY 27000\n"+enrolBase)
	write("chaos2.lic", enrolNew)
	write("chaos2.lic.local-20261128-120000", enrolByHnd)
	write(".chaos3.lic.chaos-tmp", "half")
	write("notes.txt", "not a license file")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.lic"), 0o755))
	st := readLicenseDir("10.0.0.1", dir)
	assert.Empty(t, st.Err)
	assert.Equal(t, map[string]string{"chaos.lic": enrolBase, "chaos2.lic": enrolNew}, st.Files, "SERVER lines are not compared")
	assert.Equal(t, map[string]string{"chaos2.lic.local-20261128-120000": enrolByHnd}, st.Asides)

	require.NoError(t, writeFileAtomic(filepath.Join(dir, "chaos3.lic"), []byte(enrolOld)))
	assert.Equal(t, enrolOld, readLicenseDir("", dir).Files["chaos3.lic"])
	assert.NotEmpty(t, readLicenseDir("", filepath.Join(dir, "missing")).Err)
}

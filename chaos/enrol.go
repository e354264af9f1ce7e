package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// The enrol-partition fault (FaultEnrolPartition): one member, any of the
// three (the master included), is cut off from the two others; while it
// is, a change of the license files is enrolled on the majority side,
// either dropped into a majority member's license directory or sent with
// lmutil lmenroll through one; sometimes the cut-off member's copy of the
// file is edited by hand meanwhile (a conflicting copy). Then the
// partition heals. Check (f) judges what the nemesis gathers (an
// EnrolEpisode): the three members' license directories come to hold the
// majority side's enrolled files, the new feature is served, a conflicting
// hand edit is kept aside rather than enrolled, and nothing enrolled
// before is lost (docs/enrolment.md).

// EnrolWithin bounds how long the majority side may take, from the
// partition, to have a master and hold the change on both its members.
const EnrolWithin = 8 * time.Second

// ConvergeWithin bounds how long after the heal the three members may take
// to hold the same enrolled files and serve the new feature (check f).
const ConvergeWithin = 10 * time.Second

// handEditLead: a hand edit on the cut-off member is made at least this
// long before the heal, so that the member sees it while cut off (its
// watch sees a change within 0.2 s, and it compares every second).
const handEditLead = 1500 * time.Millisecond

// How a change is enrolled on the majority side.
const (
	EnrolDrop     = "drop"     // written into a majority member's license directory
	EnrolLmenroll = "lmenroll" // lmutil lmenroll -c port@host, from the clients' namespace
)

// LicenseDirState is a member's license directory as the harness read it:
// the text of every *.lic file and of every file kept aside
// (NAME.lic.local-TIMESTAMP), each without its SERVER lines
// (licfile.SplitServerLines), by name.
type LicenseDirState struct {
	Member string
	Files  map[string]string
	Asides map[string]string
	Err    string
}

// EnrolEpisode is one enrol-partition fault as the nemesis saw it, or,
// with Final, the members' license directories at the end of the run.
type EnrolEpisode struct {
	N       int    // the N-th enrol-partition: its feature is chaos_N
	At      int64  // Now() at the partition
	Cut     int    // rank of the member cut off
	Addr    string // its address
	Master  bool   // it was the master when it was cut off
	How     string // EnrolDrop or EnrolLmenroll
	Via     string // the majority member the change was dropped into or sent through
	File    string // the file enrolled
	New     bool   // a new file (else a change of a file enrolled earlier)
	Feature string // the feature it adds
	// HandEdit is the text written by hand into the cut-off member's copy of
	// File while it was cut off ("" when none was).
	HandEdit string
	// Want is every enrolled file the members must hold after the heal:
	// what was enrolled before, with this episode's change if the majority
	// side enrolled it (text without SERVER lines).
	Want map[string]string
	// Unsure are files whose enrolment the harness could not confirm (an
	// lmenroll that failed): not judged.
	Unsure []string
	// Enrolled is Now() once both majority members held the change; 0 when
	// they did not within EnrolWithin.
	Enrolled int64
	// Heal is Now() at the heal; 0 when the run ended during the partition
	// (the final heal ends it; only the end of the run is judged).
	Heal int64
	// Converged is Now() at the first poll after the heal at which every
	// member held Want, the hand edit was kept aside and the feature was
	// served; 0 if none within ConvergeWithin.
	Converged int64
	// Short: the run ended while the convergence was awaited (not judged
	// here; the end of the run is).
	Short bool
	// Dirs are the members' license directories at that poll, or at the
	// last one.
	Dirs []LicenseDirState
	// Checkout is the last checkout of Feature through the triad after the
	// heal: "" when it was granted and checked in, else what failed.
	Checkout string
	// Final marks the look at the end of the run (after the tail): Want is
	// every file enrolled in the run, there is no feature to check out.
	Final    bool
	Problems []string
}

// EnrolStats are the counts check (f) reports.
type EnrolStats struct {
	Episodes           int
	Drops, Lmenrolls   int
	New, Changed       int
	CutMaster          int // episodes that cut off the master
	HandEdits          int
	KeptAside          int           // hand edits found kept aside on the cut-off member
	MaxEnrol           time.Duration // longest partition → enrolled on the majority side
	MaxConverge        time.Duration // longest heal → every member in line and the feature served
	Lines              []string
	FinalFiles, Judged int // files judged at the end of the run; episodes judged
}

// readLicenseDir reads a license directory: every *.lic and every
// *.local-* file, without SERVER lines.
func readLicenseDir(member, dir string) LicenseDirState {
	st := LicenseDirState{Member: member, Files: map[string]string{}, Asides: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		st.Err = err.Error()
		return st
	}
	for _, e := range entries {
		name := e.Name()
		aside := strings.Contains(name, ".lic.local-")
		if e.IsDir() || strings.HasPrefix(name, ".") || !(aside || strings.HasSuffix(name, ".lic")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // renamed since the listing
		}
		if err != nil {
			st.Err = err.Error()
			continue
		}
		_, rest := licfile.SplitServerLines(data)
		if aside {
			st.Asides[name] = string(rest)
		} else {
			st.Files[name] = string(rest)
		}
	}
	return st
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory (a dot file not ending in .lic, so no watch takes it for a
// license file) renamed into place: a member never reads half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".chaos-tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readDirs reads the three members' license directories.
func (n *Nemesis) readDirs() []LicenseDirState {
	out := make([]LicenseDirState, 3)
	for i := range out {
		out[i] = readLicenseDir(n.Cluster.Net.Addr(i), n.Cluster.LicenseDir(i))
	}
	return out
}

// startEnrol notes what is enrolled when the nemesis starts: each
// member's chaos.lic, as the first master enrols it.
func (n *Nemesis) startEnrol() {
	n.enrolWant = map[string]string{}
	if data, err := os.ReadFile(filepath.Join(n.Cluster.LicenseDir(0), "chaos.lic")); err == nil {
		_, rest := licfile.SplitServerLines(data)
		n.enrolWant["chaos.lic"] = string(rest)
	}
}

// majorityMaster waits until both members of maj name the same master,
// one of them, in their INFO (asked from the clients' namespace), at most
// until deadline; -1 if they never do.
func (n *Nemesis) majorityMaster(ctx context.Context, maj []int, deadline time.Time) int {
	for {
		m := -2
		for _, j := range maj {
			got := -1
			for _, l := range n.Cluster.Probe(ctx, j).Lines {
				msg, err := wire.ParseMessage(l)
				if err == nil && msg.Verb == "SERVER" && msg.Get("master") == "1" {
					for k := range 3 {
						if msg.Get("host") == n.Cluster.Net.Addr(k) {
							got = k
						}
					}
				}
			}
			if m == -2 || m == got {
				m = got
			} else {
				m = -1
			}
		}
		if m >= 0 && slices.Contains(maj, m) {
			return m
		}
		if time.Now().After(deadline) || !sleep(ctx, 100*time.Millisecond) {
			return -1
		}
	}
}

// enrolPartition plays one enrol-partition episode: partition, enrol on
// the majority side (and maybe edit by hand on the cut-off member), hold,
// heal, then wait for the members to converge. False when ctx ended.
func (n *Nemesis) enrolPartition(ctx context.Context, hold time.Duration, rnd *rand.Rand) bool {
	n.enrolSeq++
	k := n.enrolSeq
	ep := &EnrolEpisode{N: k, Feature: fmt.Sprintf("chaos_%d", k), Want: maps.Clone(n.enrolWant),
		Unsure: slices.Clone(n.enrolUnsure)}
	defer func() { n.Enrolments = append(n.Enrolments, *ep) }()

	// What this episode does, from its number: the changes alternate
	// between a file dropped into a member and lmenroll; the first adds a
	// new file, the second changes it, then either at random; episodes 1,
	// 4, 5, 8, 9... also edit the cut-off member's copy by hand.
	var earlier []string
	for name := range n.enrolWant {
		if name != "chaos.lic" {
			earlier = append(earlier, name)
		}
	}
	slices.Sort(earlier)
	ep.How = EnrolDrop
	if k%2 == 0 {
		ep.How = EnrolLmenroll
	}
	ep.New = len(earlier) == 0 || (k > 2 && rnd.IntN(2) == 0)
	handEdit := (k%4 == 0 || k%4 == 1) && !n.NoHandEdits
	line := fmt.Sprintf("FEATURE %s demo 1.0 permanent 2 SIGN=0\n", ep.Feature)
	var text string
	if ep.New {
		ep.File = fmt.Sprintf("chaos%d.lic", k)
		text = fmt.Sprintf("# chaos: enrolled during a partition (episode %d)\n", k) + line
	} else {
		ep.File = earlier[rnd.IntN(len(earlier))]
		if k == 2 {
			ep.File = earlier[0]
		}
		text = n.enrolWant[ep.File] + fmt.Sprintf("# chaos: changed during a partition (episode %d)\n", k) + line
	}
	if signed, err := n.Cluster.Sign(text); err != nil {
		ep.Problems = append(ep.Problems, fmt.Sprintf("signing %s: %v", ep.File, err))
	} else {
		text = signed
	}

	// The partition: the cut-off member's link down, or blackhole routes
	// between it and both peers (clients still reach it).
	i := rnd.IntN(3)
	ep.Cut, ep.Addr = i, n.Cluster.Net.Addr(i)
	ep.Master = n.Cluster.Master(ctx) == i
	var maj []int
	for j := range 3 {
		if j != i {
			maj = append(maj, j)
		}
	}
	role := "a standby"
	if ep.Master {
		role = "the master"
	}
	cut := rnd.IntN(2) == 0
	start := time.Now()
	ep.At = Now()
	if cut {
		for _, j := range maj {
			n.cutPair(i, j, true)
		}
		n.record(fmt.Sprintf("%s: %s (member %s, %s, cut off from its peers)", FaultEnrolPartition, n.cutString(), ep.Addr, role), false)
	} else {
		n.isolate(i, true, fmt.Sprintf("%s (%s)", FaultEnrolPartition, role))
	}
	heal := func() {
		if cut {
			n.healCuts()
		} else {
			n.isolate(i, false, "heal")
		}
	}

	// The change, through a member of the majority side once it has a
	// master: a file dropped there is proposed again until it is
	// committed, but lmenroll is answered once (no master: refused).
	deadline := start.Add(EnrolWithin)
	j := maj[rnd.IntN(2)]
	ep.Via = n.Cluster.Net.Addr(j)
	if m := n.majorityMaster(ctx, maj, deadline); m < 0 {
		if ctx.Err() != nil {
			ep.Short = true
			return false
		}
		ep.Problems = append(ep.Problems, fmt.Sprintf("the majority side (%s) named no master within %v of the partition", n.majorityString(maj), EnrolWithin))
	}
	var enrolErr error
	switch ep.How {
	case EnrolDrop:
		enrolErr = writeFileAtomic(filepath.Join(n.Cluster.LicenseDir(j), ep.File), []byte(text))
		n.Logf("nemesis: %s: %s dropped into %s's license directory (%s)", FaultEnrolPartition, ep.File, ep.Via, ep.Feature)
	case EnrolLmenroll:
		src := filepath.Join(n.Cluster.Dir, fmt.Sprintf("enrol-%d", k), ep.File)
		enrolErr = os.MkdirAll(filepath.Dir(src), 0o755)
		if enrolErr == nil {
			enrolErr = os.WriteFile(src, []byte(text), 0o644)
		}
		if enrolErr == nil {
			var out string
			out, enrolErr = n.Cluster.Lmenroll(ctx, j, src, time.Until(deadline)+time.Second)
			n.Logf("nemesis: %s: lmenroll -c %d@%s %s (%s): %s", FaultEnrolPartition, Port, ep.Via, ep.File, ep.Feature, out)
		}
	}
	if enrolErr != nil && ctx.Err() == nil {
		ep.Problems = append(ep.Problems, fmt.Sprintf("%s of %s through %s: %v", ep.How, ep.File, ep.Via, enrolErr))
	}
	if enrolErr == nil || ep.How == EnrolDrop {
		// On the majority side: both of its members hold it.
		for {
			dirs := n.readDirs()
			if dirs[maj[0]].Files[ep.File] == text && dirs[maj[1]].Files[ep.File] == text {
				ep.Enrolled = Now()
				break
			}
			if time.Now().After(deadline) || !sleep(ctx, 100*time.Millisecond) {
				break
			}
		}
	}
	switch {
	case ep.Enrolled != 0:
		ep.Want[ep.File] = text
		n.Logf("nemesis: %s: %s enrolled on the majority side %.3fs after the partition", FaultEnrolPartition, ep.File, time.Duration(ep.Enrolled-ep.At).Seconds())
	case ep.How == EnrolDrop && enrolErr == nil:
		// It is in a member's directory: the triad must enrol it in the end.
		ep.Want[ep.File] = text
		if ctx.Err() == nil {
			ep.Problems = append(ep.Problems, fmt.Sprintf("%s, dropped into %s's license directory, was not on both members of the majority side within %v of the partition", ep.File, ep.Via, EnrolWithin))
		}
	default:
		// An lmenroll that failed (reported above) or was cut short may
		// still have been committed; one answered but not applied is a
		// problem of its own.
		ep.Unsure = append(ep.Unsure, ep.File)
		if enrolErr == nil && ctx.Err() == nil {
			ep.Problems = append(ep.Problems, fmt.Sprintf("%s, sent with lmenroll through %s, was not on both members of the majority side within %v of the partition", ep.File, ep.Via, EnrolWithin))
		}
	}
	n.enrolWant, n.enrolUnsure = maps.Clone(ep.Want), slices.Clone(ep.Unsure)
	if ctx.Err() != nil {
		ep.Short = true
		return false // the final heal ends it; the end of the run is judged
	}

	// The hand edit: the cut-off member's copy of the file changed to
	// content the triad never enrolled.
	until := start.Add(hold)
	if handEdit && ep.Enrolled != 0 {
		path := filepath.Join(n.Cluster.LicenseDir(i), ep.File)
		old, _ := os.ReadFile(path)
		_, body := licfile.SplitServerLines(old)
		edit := string(body) + fmt.Sprintf("# chaos: edited by hand on %s while it was cut off (episode %d)\nFEATURE %s demo 1.0 permanent 9 SIGN=0\n", ep.Addr, k, ep.Feature)
		// Signed, as by an administrator with the vendor's new license: the
		// edit must lose to the triad's copy, not to its signature.
		var err error
		if edit, err = n.Cluster.Sign(edit); err == nil {
			err = writeFileAtomic(path, []byte(edit))
		}
		if err != nil {
			ep.Problems = append(ep.Problems, fmt.Sprintf("editing %s on %s by hand: %v", ep.File, ep.Addr, err))
		} else {
			ep.HandEdit = edit
			n.Logf("nemesis: %s: %s edited by hand on the cut-off member %s", FaultEnrolPartition, ep.File, ep.Addr)
			if t := time.Now().Add(handEditLead); t.After(until) {
				until = t
			}
		}
	}
	if held := max(time.Since(start), until.Sub(start)); held > hold+50*time.Millisecond {
		n.Logf("nemesis: %s held %.1fs instead of %.1fs: the enrolment (and a hand edit's lead of %v) took that long", FaultEnrolPartition, held.Seconds(), hold.Seconds(), handEditLead)
	}
	if !sleep(ctx, time.Until(until)) {
		return false // the final heal ends it; the end of the run is judged
	}
	heal()
	ep.Heal = Now()

	// Every member in line, the hand edit kept aside, the feature served.
	// What the three members agree on afterwards is what later episodes
	// start from, so that a loss is reported once, where it happened.
	defer func() { n.enrolWant, n.enrolUnsure = rebaseWant(ep.Want, ep.Unsure, ep.Dirs) }()
	deadline = time.Now().Add(ConvergeWithin)
	for {
		ep.Dirs = n.readDirs()
		if len(enrolFindings(ep, ep.Dirs)) == 0 {
			ep.Checkout = n.Cluster.Checkout(ctx, ep.Feature)
			if ep.Checkout == "" {
				ep.Converged = Now()
				n.Logf("nemesis: %s: every member holds the enrolled files and %s is served %.3fs after the heal",
					FaultEnrolPartition, ep.Feature, time.Duration(ep.Converged-ep.Heal).Seconds())
				return true
			}
		}
		if time.Now().After(deadline) {
			n.Logf("nemesis: %s: the members are not in line %v after the heal", FaultEnrolPartition, ConvergeWithin)
			return true
		}
		if !sleep(ctx, 100*time.Millisecond) {
			ep.Short = true
			return false
		}
	}
}

// rebaseWant is what later episodes expect after one that ended with dirs:
// want, except that every file on which the three members agree (the same
// text on all, or absent from all) is taken as they have it, and leaves
// unsure. A file they disagree on keeps its expected text.
func rebaseWant(want map[string]string, unsure []string, dirs []LicenseDirState) (map[string]string, []string) {
	want, unsure = maps.Clone(want), slices.Clone(unsure)
	if want == nil {
		want = map[string]string{}
	}
	names := map[string]bool{}
	for name := range want {
		names[name] = true
	}
	for _, name := range unsure {
		names[name] = true
	}
	for _, d := range dirs {
		if d.Err != "" {
			return want, unsure
		}
		for name := range d.Files {
			names[name] = true
		}
	}
	if len(dirs) == 0 {
		return want, unsure
	}
	for name := range names {
		text, ok := dirs[0].Files[name]
		agree := true
		for _, d := range dirs[1:] {
			if t, o := d.Files[name]; o != ok || t != text {
				agree = false
			}
		}
		if !agree {
			continue
		}
		if ok {
			want[name] = text
		} else {
			delete(want, name)
		}
		unsure = slices.DeleteFunc(unsure, func(u string) bool { return u == name })
	}
	return want, unsure
}

func (n *Nemesis) majorityString(maj []int) string {
	var s []string
	for _, j := range maj {
		s = append(s, n.Cluster.Net.Addr(j))
	}
	return strings.Join(s, " ")
}

// EnrolEpisodes are the enrol-partition episodes in order.
func (n *Nemesis) EnrolEpisodes() []EnrolEpisode { return slices.Clone(n.Enrolments) }

// FinalEnrolment looks at the members' license directories once more at
// the end of the run: every file enrolled in the run must be on all three
// (polled for up to ConvergeWithin, the final heal may just have restarted
// a member). Nil when the run enrolled nothing.
func (n *Nemesis) FinalEnrolment(ctx context.Context) *EnrolEpisode {
	if len(n.Enrolments) == 0 {
		return nil
	}
	ep := &EnrolEpisode{Final: true, Want: maps.Clone(n.enrolWant), Unsure: slices.Clone(n.enrolUnsure), Heal: Now(), Cut: -1}
	deadline := time.Now().Add(ConvergeWithin)
	for {
		ep.Dirs = n.readDirs()
		if len(enrolFindings(ep, ep.Dirs)) == 0 {
			ep.Converged = Now()
			return ep
		}
		if time.Now().After(deadline) || !sleep(ctx, 100*time.Millisecond) {
			return ep
		}
	}
}

// enrolFindings is what is out of line in dirs for ep (empty: in line):
// every member must hold exactly the files of Want (those of Unsure
// aside) with their text, and a hand edit must be on the cut-off member
// as a copy kept aside. Each finding names the member and the file.
func enrolFindings(ep *EnrolEpisode, dirs []LicenseDirState) []string {
	var out []string
	what := func(name string) string {
		if name == ep.File && !ep.Final {
			return "the file enrolled during the partition"
		}
		return "enrolled earlier"
	}
	for _, d := range dirs {
		if d.Err != "" {
			out = append(out, fmt.Sprintf("%s: reading its license directory: %s", d.Member, d.Err))
		}
		for _, name := range slices.Sorted(maps.Keys(ep.Want)) {
			if slices.Contains(ep.Unsure, name) {
				continue
			}
			want := ep.Want[name]
			got, ok := d.Files[name]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s has no %s (%s): lost", d.Member, name, what(name)))
			case got == want:
			case ep.HandEdit != "" && name == ep.File && got == ep.HandEdit:
				out = append(out, fmt.Sprintf("%s's %s holds the hand edit made on %s while it was cut off, not the content the majority side enrolled: the hand edit was enrolled (the majority's enrolment lost)", d.Member, name, ep.Addr))
			default:
				out = append(out, fmt.Sprintf("%s's %s (%s) is not what was enrolled: it holds %q, want %q", d.Member, name, what(name), clip(got), clip(want)))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(d.Files)) {
			if _, ok := ep.Want[name]; !ok && !slices.Contains(ep.Unsure, name) {
				out = append(out, fmt.Sprintf("%s has %s, which was never enrolled: %q", d.Member, name, clip(d.Files[name])))
			}
		}
	}
	if ep.HandEdit != "" && ep.Cut >= 0 && ep.Cut < len(dirs) {
		kept := false
		for name, text := range dirs[ep.Cut].Asides {
			if strings.HasPrefix(name, ep.File+".local-") && text == ep.HandEdit {
				kept = true
			}
		}
		if !kept {
			out = append(out, fmt.Sprintf("%s kept no copy of its hand edit of %s aside (no %s.local-* holding it; asides: %s)",
				ep.Addr, ep.File, ep.File, strings.Join(slices.Sorted(maps.Keys(dirs[ep.Cut].Asides)), " ")))
		}
	}
	return out
}

// clip shortens a file's text for a finding.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 160 {
		return "..." + s[len(s)-157:]
	}
	return s
}

// CheckEnrolments (f): enrolment converges. For every enrol-partition
// episode, within ConvergeWithin of the heal:
//
//   - every member's license directory holds exactly the files enrolled so
//     far, each with the text the majority side enrolled (SERVER lines
//     aside): the change made during the partition, and every earlier one
//     (nothing enrolled on the majority side lost);
//   - a hand edit made on the cut-off member while it was cut off is kept
//     aside there (NAME.lic.local-*, holding the edit), not enrolled;
//   - the episode's new feature is checked out through the triad (and
//     checked in);
//   - the majority side enrolled the change within EnrolWithin of the
//     partition (a harness problem is a violation too).
//
// The last look (Final), after the tail, judges the directories only. An
// episode the end of the run cut short is left to it.
func CheckEnrolments(r *Report, eps []EnrolEpisode) {
	st := &r.Enrol
	add := func(ep *EnrolEpisode, text string) {
		at, what := ep.At, fmt.Sprintf("%s %d at %s (%s %s cut off)", FaultEnrolPartition, ep.N, r.stamp(ep.At), "member", ep.Addr)
		if ep.Final {
			at, what = ep.Heal, "at the end of the run"
		}
		r.Violations[CheckEnrol] = append(r.Violations[CheckEnrol], Violation{CheckEnrol, at, what + ": " + text})
	}
	for i := range eps {
		ep := &eps[i]
		for _, p := range ep.Problems {
			add(ep, p)
		}
		if ep.Final {
			st.FinalFiles = len(ep.Want) - len(ep.Unsure)
			for _, f := range enrolFindings(ep, ep.Dirs) {
				add(ep, f)
			}
			continue
		}
		st.Episodes++
		if ep.How == EnrolLmenroll {
			st.Lmenrolls++
		} else {
			st.Drops++
		}
		if ep.New {
			st.New++
		} else {
			st.Changed++
		}
		if ep.Master {
			st.CutMaster++
		}
		if ep.Enrolled != 0 {
			st.MaxEnrol = max(st.MaxEnrol, time.Duration(ep.Enrolled-ep.At))
		}
		edit := ""
		if ep.HandEdit != "" {
			st.HandEdits++
			edit = ", edited by hand there"
		}
		line := fmt.Sprintf("%d at %s: %s (%s) by %s through %s, %s cut off%s", ep.N, r.stamp(ep.At), ep.File, ep.Feature, ep.How, ep.Via, ep.Addr, edit)
		if ep.Master {
			line += " (the master)"
		}
		if ep.Heal == 0 || ep.Short {
			st.Lines = append(st.Lines, line+"; the run ended before it was judged")
			continue
		}
		st.Judged++
		findings := enrolFindings(ep, ep.Dirs)
		if ep.HandEdit != "" && !slices.ContainsFunc(findings, func(f string) bool { return strings.Contains(f, "kept no copy") }) {
			st.KeptAside++
		}
		if ep.Checkout != "" {
			findings = append(findings, fmt.Sprintf("checking %s out through the triad: %s", ep.Feature, ep.Checkout))
		}
		if ep.Converged == 0 && len(findings) == 0 {
			findings = append(findings, "not in line") // (the poll and the check disagree)
		}
		if ep.Converged != 0 {
			took := time.Duration(ep.Converged - ep.Heal)
			st.MaxConverge = max(st.MaxConverge, took)
			line += fmt.Sprintf("; in line and served %v after the heal", took.Round(time.Millisecond))
		} else {
			line += fmt.Sprintf("; not in line %v after the heal", ConvergeWithin)
		}
		st.Lines = append(st.Lines, line)
		for _, f := range findings {
			add(ep, fmt.Sprintf("%v after the heal: %s", ConvergeWithin, f))
		}
	}
}

// Lmenroll runs lmutil lmenroll -c PORT@member-j FILE in the clients'
// namespace (an administrator's machine) and returns its output.
func (c *Cluster) Lmenroll(ctx context.Context, j int, file string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", c.Net.ClientNS(), filepath.Join(c.Bin, "lmutil"),
		"lmenroll", "-c", fmt.Sprintf("%d@%s", Port, c.Net.Addr(j)), file).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		return text, fmt.Errorf("%v: %s", err, text)
	}
	return text, nil
}

// Checkout checks feature out through the triad and in again, from the
// clients' namespace ("lmchaos checkout"): "" when both succeeded, else
// what failed.
func (c *Cluster) Checkout(ctx context.Context, feature string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", c.Net.ClientNS(), filepath.Join(c.Bin, "lmchaos"),
		"checkout", "-path", c.LicensePath(), "-feature", feature).CombinedOutput()
	if err != nil {
		return strings.TrimSpace(err.Error() + ": " + string(out))
	}
	return ""
}

// CheckoutOnce checks one license of feature out through path and in
// again, and returns its handle ("lmchaos checkout").
func CheckoutOnce(ctx context.Context, path, feature string) (uint64, error) {
	opts := client.NewOptions()
	opts.LicensePath = path
	opts.User, opts.Host = "enrol", "chaos"
	opts.DialTimeout, opts.RequestTimeout = 300*time.Millisecond, 2*time.Second
	c, err := client.New(opts)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	lic, err := c.Checkout(ctx, feature, "", 1)
	if err != nil {
		return 0, fmt.Errorf("checkout: %w", err)
	}
	h := lic.Handle()
	if err := lic.Checkin(); err != nil {
		return h, fmt.Errorf("checkin of handle %d: %w", h, err)
	}
	return h, nil
}

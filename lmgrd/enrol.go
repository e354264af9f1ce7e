package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/enrol"
	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/quorum"
)

// Enrolment (package enrol): the license files a triad serves are entries
// of its raft log. The run loop applies them to t.enrolled like the
// license tables; the enroller goroutine below brings this member's
// license directory in line with the set and proposes the changes an
// admin makes in it.

// enrolRecordFile, in the state directory, is what this member last
// synced of each enrolled file (enrol.PlanInput.Synced).
const enrolRecordFile = "enrolled.json"

// reproposeAfter is how long a proposed change may take to come back
// applied before it is proposed again (it was lost with a master change).
const reproposeAfter = 3 * time.Second

// enroller is this member's side of enrolment. Its fields are its own
// goroutine's, except where noted.
type enroller struct {
	t   *triad
	dir string // the license directory: -c, or the directory of the -c file
	// only, when not empty, is the -c file: the one local file served (the
	// other enrolled files are written beside it but not served).
	only    string
	servers []byte // this member's own SERVER lines, written into enrolled files that have them

	kick chan chan struct{} // a pass now; the channel (if any) is closed after it

	mu         sync.Mutex // guards set, changed, conflicted, servedPub
	set        *enrol.Set // a copy of the run loop's set, as last applied
	changed    chan struct{}
	servedPub  string            // served, for waitEnrolled: this member serves the set with this digest
	conflicted map[string]string // this member's edits the set refused (enrol.PlanInput.Refused)

	synced   map[string]string
	started  bool                  // the first pass (Startup) is done
	proposed map[string]proposedAt // digest proposed per file name
	refused  map[string]string     // digest last refused per file name: logged once
	noMaster flexlog.Throttle      // (the run loop's)
	readErr  flexlog.Throttle
	// served is the digest of the files this member last read (at start,
	// or when it was last in line with the set): when the set moves on
	// from it, the member rereads.
	served   string
	disabled string // why enrolment is off on this member; "" when on
}

type proposedAt struct {
	digest string
	at     time.Time
}

func newEnroller(t *triad, spec string) *enroller {
	e := &enroller{t: t, kick: make(chan chan struct{}, 1), set: enrol.NewSet(), changed: make(chan struct{}),
		proposed: map[string]proposedAt{}, refused: map[string]string{}, conflicted: map[string]string{}}
	entries, _ := licfile.ParseSearchPath(spec, nil)
	switch {
	case len(entries) != 1:
		e.disabled = "-c names more than one license file or directory"
	case entries[0].Kind == licfile.EntryDir:
		e.dir = entries[0].Path
	case entries[0].Kind == licfile.EntryFile:
		e.dir, e.only = filepath.Dir(entries[0].Path), entries[0].Path
	default:
		e.disabled = "-c names no license file or directory"
	}
	e.synced = e.loadRecord()
	if e.disabled == "" {
		if local, err := e.readLocal(enrol.NewSet()); err == nil {
			e.served = (&enrol.Set{Files: local}).Digest()
		}
	}
	return e
}

// setServers keeps the SERVER lines of the file this member took its own
// from, to write them into enrolled files that have SERVER lines.
func (e *enroller) setServers(files []*licfile.File) {
	for _, f := range files {
		if len(f.Servers) == 0 {
			continue
		}
		if data, err := os.ReadFile(f.Name); err == nil {
			e.servers, _ = licfile.SplitServerLines(data)
			if len(e.servers) > 0 && !bytes.HasSuffix(e.servers, []byte("\n")) {
				e.servers = append(e.servers, '\n')
			}
		}
		return
	}
}

// published is called by the run loop after it applied enrolment entries.
func (e *enroller) published(set *enrol.Set) {
	e.mu.Lock()
	e.set = set
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	e.poke(nil)
}

// noteConflict is called by the run loop for this member's own edit that
// the set refused: the next pass keeps that copy aside.
func (e *enroller) noteConflict(f enrol.File) {
	digest := enrol.RemovedDigest
	if !f.Removed {
		digest = f.Digest()
	}
	e.mu.Lock()
	e.conflicted[f.Name] = digest
	e.mu.Unlock()
}

func (e *enroller) current() (*enrol.Set, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.set, e.changed
}

// poke asks for a pass; done, if not nil, is closed after the next one.
func (e *enroller) poke(done chan struct{}) {
	select {
	case e.kick <- done:
	default:
		if done != nil {
			go func() { // a pass is already asked for: wait for it, then ask again
				select {
				case e.kick <- done:
				case <-e.t.s.ctx.Done():
				}
			}()
		}
	}
}

// passNow runs a pass and waits for it (lmreread), at most until ctx ends.
func (e *enroller) passNow(ctx context.Context) {
	done := make(chan struct{})
	e.poke(done)
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (e *enroller) run(ctx context.Context) {
	if e.disabled != "" {
		e.t.s.log.Warnf("License files are not enrolled through the triad on this server: %s (start lmgrd with -c DIR)", e.disabled)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var done chan struct{}
		select {
		case <-ctx.Done():
			return
		case done = <-e.kick:
		case <-tick.C:
		}
		if e.disabled == "" {
			e.pass()
		}
		if done != nil {
			close(done)
		}
	}
}

// caughtUp: this member may compare its directory with the set only once
// it has applied what the triad has committed.
func caughtUp(st quorum.Status) bool {
	return st.Serving || (st.Master >= 0 && st.Applied >= st.Commit && st.Commit > 0)
}

func (e *enroller) pass() {
	st := e.t.currentStatus()
	if !caughtUp(st) {
		return
	}
	set, _ := e.current()
	local, err := e.readLocal(set)
	if err != nil {
		if ok, _ := e.readErr.Allow(time.Now(), time.Minute); ok {
			e.t.s.log.Errorf("Cannot read the license directory %s: %v", e.dir, err)
		}
		return
	}
	e.mu.Lock()
	conflicted := maps.Clone(e.conflicted)
	e.mu.Unlock()
	plan := enrol.Decide(enrol.PlanInput{Set: set, Local: local, Synced: e.synced, Startup: !e.started,
		Master: st.Serving, Self: e.t.s.self, Host: e.t.s.host, Refused: conflicted})
	if set.Initialized {
		e.started = true
	}
	wrote := false
	for _, w := range plan.Writes {
		if w.Remove && e.only != "" && w.Name == filepath.Base(e.only) {
			// The one file -c names is never taken away from under lmgrd.
			if e.refused[w.Name] != "unenrolled" {
				e.refused[w.Name] = "unenrolled"
				e.t.s.log.Warnf("License file %s is not among the triad's enrolled files (%s): still served as it is; "+
					"give the license file the same name on all three servers, or use -c DIR", e.only, strings.Join(set.Names(), ", "))
			}
			continue
		}
		if err := e.write(w); err != nil {
			e.t.s.log.Errorf("Cannot bring %s in line with the triad: %v", filepath.Join(e.dir, w.Name), err)
			return // the record stays as it was: the next pass tries again
		}
		e.mu.Lock()
		delete(e.conflicted, w.Name)
		e.mu.Unlock()
		delete(e.proposed, w.Name)
		wrote = true
	}
	if !maps.Equal(plan.Synced, e.synced) {
		e.synced = plan.Synced
		if err := e.saveRecord(); err != nil {
			e.t.s.log.Errorf("Cannot keep the enrolment record: %v", err)
		}
	}
	inLine := plan.Propose == nil && set.Initialized
	if inLine && e.served != set.Digest() {
		wrote = true // this member's own change, now enrolled: serve it
	}
	if inLine {
		e.served = set.Digest()
	}
	if wrote {
		_ = e.t.s.reread("", true) // a broken file beside the enrolled ones must not hold them back
	}
	if inLine {
		e.mu.Lock()
		if e.servedPub != e.served {
			e.servedPub = e.served
			close(e.changed)
			e.changed = make(chan struct{})
		}
		e.mu.Unlock()
	}
	if plan.Propose != nil {
		e.propose(plan.Propose, local)
	}
}

// readLocal reads this member's license files: every *.lic of the
// directory, or the -c file and the enrolled files beside it.
func (e *enroller) readLocal(set *enrol.Set) (map[string]enrol.Doc, error) {
	var paths []string
	if e.only == "" {
		ps, err := licfile.ExpandDir(e.dir)
		if err != nil {
			return nil, err
		}
		paths = ps
	} else {
		paths = append(paths, e.only)
		for _, name := range set.Names() {
			if p := filepath.Join(e.dir, name); p != e.only && enrol.IsLicense(name) {
				if _, err := os.Stat(p); err == nil {
					paths = append(paths, p)
				}
			}
		}
	}
	// The options files of the directory are enrolled with the licenses.
	opts, err := filepath.Glob(filepath.Join(e.dir, "*.opt"))
	if err != nil {
		return nil, err
	}
	paths = append(paths, opts...)
	local := make(map[string]enrol.Doc, len(paths))
	for _, p := range paths {
		name := filepath.Base(p)
		if enrol.ValidName(name) != nil {
			continue
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, err
		}
		if enrol.IsOptions(name) {
			local[name] = enrol.Doc{Body: data} // no SERVER lines in an options file
			continue
		}
		servers, rest := licfile.SplitServerLines(data)
		local[name] = enrol.Doc{Body: rest, HasServers: len(servers) > 0}
	}
	return local, nil
}

// write applies one planned change to the directory: the copy on disk is
// renamed aside first when it must be kept, then the enrolled content is
// written (to a temporary file renamed over the old one) or the file
// removed.
func (e *enroller) write(w enrol.Write) error {
	path := filepath.Join(e.dir, w.Name)
	log := e.t.s.log
	if w.KeepAside {
		aside := path + ".local-" + time.Now().Format("20060102-150405")
		if err := os.Rename(path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		text := fmt.Sprintf("%s: kept its differing copy of %s as %s (brought in line with the triad)", e.t.s.host, w.Name, filepath.Base(aside))
		log.Warn(text)
		if data, err := enrol.Encode(enrol.Entry{Proposer: e.t.s.self, Host: e.t.s.host, Notice: text}); err == nil {
			e.t.proposeEnrol(data)
		}
	}
	if w.Remove {
		if !w.KeepAside {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		log.Infof("License file %s removed: no longer enrolled in the triad", path)
		return nil
	}
	content := w.Doc.Body
	if w.Doc.HasServers {
		content = append(slices.Clip(e.servers), w.Doc.Body...)
	}
	tmp, err := os.CreateTemp(e.dir, ".enrol-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(content); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	if e.only != "" && path != e.only {
		log.Warnf("License file %s written as enrolled in the triad, but not served: lmgrd -c names only %s", path, e.only)
	} else {
		log.Infof("License file %s written as enrolled in the triad", path)
	}
	return nil
}

// propose checks the changed files as lmgrd would load them and proposes
// those that pass; a file with errors is reported with its file:line
// (once per content) and changes nothing anywhere.
func (e *enroller) propose(entry *enrol.Entry, local map[string]enrol.Doc) {
	log := e.t.s.log
	now := time.Now()
	var keep []enrol.File
	for _, f := range entry.Files {
		digest := f.Digest()
		if f.Removed {
			digest = "removed"
		}
		if p, ok := e.proposed[f.Name]; ok && p.digest == digest && now.Sub(p.at) < reproposeAfter {
			continue // in flight
		}
		if e.refused[f.Name] == digest {
			continue // already reported
		}
		if !f.Removed {
			if err := e.check(f); err != nil {
				e.refused[f.Name] = digest
				logLoadError(log, err)
				log.Errorf("License file %s not enrolled: %s", filepath.Join(e.dir, f.Name), reason(err))
				continue
			}
		}
		delete(e.refused, f.Name)
		e.proposed[f.Name] = proposedAt{digest, now}
		keep = append(keep, f)
	}
	if len(keep) == 0 && !entry.Init {
		return
	}
	entry.Files = keep
	data, err := enrol.Encode(*entry)
	if err != nil {
		log.Errorf("License files not enrolled: %v", err)
		return
	}
	if entry.Init {
		names := make([]string, len(keep))
		for i, f := range keep {
			names[i] = f.Name
		}
		log.Infof("Enrolling this server's license files in the triad (its first enrolment): %s", strings.Join(names, ", "))
		e.t.proposeEnrol(data)
		return
	}
	for _, f := range keep {
		what := "changed"
		if f.Removed {
			what = "removed"
		}
		log.Infof("License file %s %s on this server: enrolling it in the triad", filepath.Join(e.dir, f.Name), what)
	}
	e.t.proposeEnrol(data)
}

// check parses a file as lmgrd would serve it: every line must be good,
// and its SERVER lines, if any, must be this triad's.
func (e *enroller) check(f enrol.File) error {
	path := filepath.Join(e.dir, f.Name)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return e.checkData(path, data)
}

// checkData is check for a file's content; path names it in errors.
func (e *enroller) checkData(path string, data []byte) error {
	if enrol.IsOptions(path) {
		// An options file is enrolled only without errors: a line the
		// vendor daemons would skip is a typo to fix first.
		parsed, err := options.Parse(path, bytes.NewReader(data))
		if err != nil {
			return err
		}
		return parsed.Errors()
	}
	parsed, err := licfile.Parse(path, data)
	if err != nil {
		return err
	}
	if len(parsed.Servers) > 0 && serverList(parsed.Servers) != serverList(e.t.s.servers) {
		return fmt.Errorf("%s: its SERVER lines (%s) differ from the triad's (%s)", path,
			serverList(parsed.Servers), serverList(e.t.s.servers))
	}
	return nil
}

// reason is the short form of a refusal for the summary line.
func reason(err error) string {
	var list licfile.ErrorList
	if errors.As(err, &list) {
		return fmt.Sprintf("%d error(s) above; fix them and save the file again", len(list))
	}
	var problems options.ProblemList
	if errors.As(err, &problems) {
		return fmt.Sprintf("%d error(s) above; fix them and save the file again", len(problems))
	}
	return err.Error()
}

// waitEnrolled waits until every named file has the given content in the
// set and this member has written and reread it (lmenroll), at most until
// ctx ends.
func (e *enroller) waitEnrolled(ctx context.Context, want map[string]string) error {
	for {
		e.mu.Lock()
		set, changed, served := e.set, e.changed, e.servedPub
		e.mu.Unlock()
		done := served == set.Digest()
		for name, digest := range want {
			if d, ok := set.Files[name]; !ok || d.Digest() != digest {
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (e *enroller) recordPath() string { return filepath.Join(e.t.dir, enrolRecordFile) }

func (e *enroller) loadRecord() map[string]string {
	rec := map[string]string{}
	data, err := os.ReadFile(e.recordPath())
	if err != nil {
		return rec
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		e.t.s.log.Warnf("Enrolment record %s cannot be read (%v): this server's license files are compared as new", e.recordPath(), err)
		return map[string]string{}
	}
	return rec
}

func (e *enroller) saveRecord() error {
	data, err := json.MarshalIndent(e.synced, "", "  ")
	if err != nil {
		return err
	}
	tmp := e.recordPath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, e.recordPath())
}

// ---- the run loop's side ----

// proposeEnrol hands an enrolment entry to the run loop, which forwards
// it to the master.
func (t *triad) proposeEnrol(data []byte) {
	select {
	case t.enrolProps <- data:
	case <-t.s.ctx.Done():
	}
}

func (t *triad) forwardEnrol(data []byte) {
	if err := t.node.ProposeForwarded(data); err != nil {
		if ok, _ := t.enroller.noMaster.Allow(time.Now(), 10*time.Second); ok {
			t.s.log.Warnf("License file change not enrolled yet: %v; it is proposed again", err)
		}
	}
}

// applyEnrol applies a committed enrolment entry (run loop).
func (t *triad) applyEnrol(data []byte) {
	entry, err := enrol.Decode(data)
	var changed []string
	var conflicts []enrol.File
	if err == nil {
		changed, conflicts, err = t.enrolled.Apply(entry)
	}
	if err != nil {
		t.s.log.Warnf("Triad: committed license file change not applied (%v)", err)
		return
	}
	if entry.Notice != "" {
		t.s.log.Warn("Triad: " + entry.Notice)
	}
	t.applyPasswords(entry)
	for _, f := range conflicts {
		t.s.log.Warnf("Triad: %s's change of %s not enrolled: it was made from a copy the triad has since changed "+
			"(%s was cut off, or another change came first); %s keeps its copy aside", entry.Host, f.Name, entry.Host, entry.Host)
		if entry.Proposer == t.s.self {
			t.enroller.noteConflict(f)
			t.enrolDirty = true
		}
	}
	if len(changed) > 0 {
		t.s.log.Infof("Triad: license file(s) %s enrolled from %s", strings.Join(changed, ", "), entry.Host)
		t.enrolDirty = true
	} else if entry.Init {
		t.enrolDirty = true
	}
}

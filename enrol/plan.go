package enrol

import (
	"maps"
	"slices"
)

// PlanInput is what one member knows when it brings its license directory
// and the enrolled set together.
type PlanInput struct {
	Set *Set
	// Local is the license files on this member's disk, by name.
	Local map[string]Doc
	// Synced is, by name, the digest of the enrolled content this member
	// last had on disk; a name it never held is absent. It tells a local
	// edit (propose it) from a member that is behind (take the set's).
	Synced map[string]string
	// Startup: the first plan since this member started. A local file that
	// differs from what it last synced was changed while it was down: it
	// is brought in line, its copy kept aside, instead of enrolled.
	Startup bool
	// Master: this member is the serving master; only it makes the first
	// enrolment of a triad.
	Master bool
	// Refused is, by name, the content of this member's own edits that the
	// set refused as conflicts (the local digest, or RemovedDigest): such a
	// copy is kept aside and the set's content taken.
	Refused map[string]string
	Self    int
	Host    string
}

// Write is one change to this member's license directory.
type Write struct {
	Name string
	Doc  Doc // the enrolled content to write, unless Remove
	// Remove: the file is no longer enrolled.
	Remove bool
	// KeepAside: the file on disk holds content the triad never enrolled
	// from this member; rename it beside the file, never delete it.
	KeepAside bool
}

// Plan is what a member does.
type Plan struct {
	// Propose, when not nil, is the local changes to enrol (or the first
	// enrolment of the triad).
	Propose *Entry
	// Writes bring the directory in line with the set.
	Writes []Write
	// Synced is the record to keep once Writes are done.
	Synced map[string]string
}

// RemovedDigest stands for a removed file in PlanInput.Refused.
const RemovedDigest = "removed"

// Decide plans one member's reconciliation. It is pure: the same input
// gives the same plan.
func Decide(in PlanInput) Plan {
	p := Plan{Synced: maps.Clone(in.Synced)}
	if p.Synced == nil {
		p.Synced = map[string]string{}
	}
	if in.Set == nil || !in.Set.Initialized {
		if in.Master && len(in.Local) > 0 {
			e := &Entry{Proposer: in.Self, Host: in.Host, Init: true}
			for _, name := range slices.Sorted(maps.Keys(in.Local)) {
				e.Files = append(e.Files, File{Name: name, Doc: in.Local[name]})
			}
			p.Propose = e
		}
		return p
	}
	names := map[string]bool{}
	for n := range in.Set.Files {
		names[n] = true
	}
	for n := range in.Local {
		names[n] = true
	}
	var changes []File
	for _, name := range slices.Sorted(maps.Keys(names)) {
		e, inSet := in.Set.Files[name]
		l, onDisk := in.Local[name]
		synced, known := in.Synced[name]
		if inSet == onDisk && (!inSet || e.Equal(l)) {
			if inSet {
				p.Synced[name] = e.Digest()
			} else {
				delete(p.Synced, name)
			}
			continue
		}
		unchanged := (onDisk && known && synced == l.Digest()) || (!onDisk && !known)
		localDigest := RemovedDigest
		if onDisk {
			localDigest = l.Digest()
		}
		switch {
		case unchanged:
			// This member is behind: take the set's content.
			p.Writes = append(p.Writes, Write{Name: name, Doc: e, Remove: !inSet, KeepAside: !inSet && onDisk})
		case in.Startup, in.Refused[name] == localDigest:
			// Changed while this member was down, or an edit the set
			// refused as a conflict: brought in line.
			p.Writes = append(p.Writes, Write{Name: name, Doc: e, Remove: !inSet, KeepAside: onDisk})
		default:
			// Changed here while running: enrol it, against what this
			// member last had in line.
			base := BaseNone
			if known {
				base = synced
			}
			changes = append(changes, File{Name: name, Removed: !onDisk, Base: base, Doc: l})
			continue
		}
		if inSet {
			p.Synced[name] = e.Digest()
		} else {
			delete(p.Synced, name)
		}
	}
	if len(changes) > 0 {
		p.Propose = &Entry{Proposer: in.Self, Host: in.Host, Files: changes}
	}
	return p
}

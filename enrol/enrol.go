// Package enrol is the triad's enrolled license files: the license files
// every member serves, as entries of the replicated raft log, so that a
// file enrolled on one member reaches all three (DSLS: "enrolling the
// licenses on one cluster member also enrolls them automatically on the
// other cluster members").
//
// It is pure: Set is the state machine that every member changes the same
// way by applying the same committed Entries, and Plan decides, from the
// set, the files on this member's disk and what this member last synced,
// what to write, what to keep aside and what to propose. lmgrd does the
// reading, writing and proposing (lmgrd/enrol.go).
//
// SERVER lines are not enrolled: each member keeps its own, as it names
// hosts and ports as that member sees them. A Doc is a file's text without
// its SERVER lines, plus whether it had any.
package enrol

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lmtriad/lmtriad/adminauth"
)

// Doc is one enrolled license file.
type Doc struct {
	Body       []byte `json:"b"`           // the file's text without its SERVER lines
	HasServers bool   `json:"s,omitempty"` // the file had SERVER lines: each member writes its own back
}

// Digest identifies a Doc's content.
func (d Doc) Digest() string {
	h := sha256.New()
	if d.HasServers {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	h.Write(d.Body)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Equal reports whether two docs have the same content.
func (d Doc) Equal(o Doc) bool { return d.HasServers == o.HasServers && bytes.Equal(d.Body, o.Body) }

// File is one file of an Entry: its new content, or its removal.
type File struct {
	Name    string `json:"n"`
	Removed bool   `json:"r,omitempty"`
	// Base is the content the proposer's edit was made from: the digest of
	// the enrolled file it last had in line (BaseNone: it had none). An
	// entry whose base is no longer what the set holds is a conflict (the
	// set moved on while the proposer was cut off, or another member's
	// edit came first): it is not applied, and the proposer keeps its copy
	// aside. Empty: no check (the first enrolment, lmenroll).
	Base string `json:"base,omitempty"`
	Doc
}

// BaseNone is File.Base for an edit made where the set held no such file.
const BaseNone = "none"

// Entry is the content of one enrolment log entry.
type Entry struct {
	Proposer int    `json:"p"`           // rank of the member that proposed it
	Host     string `json:"h,omitempty"` // its SERVER host, for the log
	// Init marks the first enrolment of a triad: the serving master's files
	// become the enrolled set.
	Init  bool   `json:"i,omitempty"`
	Files []File `json:"f,omitempty"`
	// Notice is logged by every member when applied (a member brought in
	// line kept its differing copy aside); it changes nothing.
	Notice string `json:"x,omitempty"`
	// Passwords sets or removes administrator passwords (lmutil lmpasswd):
	// they are replicated with the license files, so that each member
	// checks the same ones.
	Passwords []PasswordChange `json:"pw,omitempty"`
	// By names who changed passwords, for every member's log.
	By string `json:"by,omitempty"`
}

// PasswordChange sets the credential of a level ("full", "restricted"),
// or removes it when Cred is nil.
type PasswordChange struct {
	Level string                `json:"l"`
	Cred  *adminauth.Credential `json:"c,omitempty"`
}

// Limits keep a bad entry from costing every member memory.
const (
	MaxFiles    = 256
	MaxFileSize = 4 << 20
	maxName     = 200
)

// ErrMalformed is wrapped by every error of Decode and Apply.
var ErrMalformed = errors.New("enrol: malformed entry")

// The first two bytes of an enrolment entry: distinct from every format of
// package table (1, 2, 3), so one log carries both.
const (
	formatEntry    byte = 'E'
	formatSnapshot byte = 'S'
	version        byte = 1
)

// IsEntry reports whether a log entry's data is an enrolment entry.
func IsEntry(data []byte) bool { return len(data) >= 2 && data[0] == formatEntry }

// Encode makes the log entry data of e.
func Encode(e Entry) ([]byte, error) {
	if err := check(&e); err != nil {
		return nil, err
	}
	js, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("enrol: encoding: %w", err)
	}
	return append([]byte{formatEntry, version}, js...), nil
}

// Decode reads what Encode wrote. Every error wraps ErrMalformed.
func Decode(data []byte) (Entry, error) {
	var e Entry
	if !IsEntry(data) {
		return e, fmt.Errorf("%w: not an enrolment entry", ErrMalformed)
	}
	if data[1] != version {
		return e, fmt.Errorf("%w: version %d unknown (this build reads version %d)", ErrMalformed, data[1], version)
	}
	if err := strictJSON(data[2:], &e); err != nil {
		return Entry{}, err
	}
	if err := check(&e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return nil
}

func check(e *Entry) error {
	if e.Proposer < 0 || e.Proposer > 2 {
		return fmt.Errorf("%w: proposer %d", ErrMalformed, e.Proposer)
	}
	if len(e.Files) > MaxFiles {
		return fmt.Errorf("%w: %d files, at most %d", ErrMalformed, len(e.Files), MaxFiles)
	}
	if len(e.Files) == 0 && e.Notice == "" && !e.Init && len(e.Passwords) == 0 {
		return fmt.Errorf("%w: an entry with neither files nor a notice", ErrMalformed)
	}
	if len(e.Passwords) > 2 {
		return fmt.Errorf("%w: %d password changes, at most 2", ErrMalformed, len(e.Passwords))
	}
	for _, p := range e.Passwords {
		if !adminauth.ValidLevel(p.Level) {
			return fmt.Errorf("%w: password level %q", ErrMalformed, p.Level)
		}
		if p.Cred != nil {
			if err := p.Cred.Validate(); err != nil {
				return fmt.Errorf("%w: %s password: %v", ErrMalformed, p.Level, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, f := range e.Files {
		if err := ValidName(f.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: %s named twice", ErrMalformed, f.Name)
		}
		seen[f.Name] = true
		if len(f.Body) > MaxFileSize {
			return fmt.Errorf("%w: %s has %d bytes, at most %d", ErrMalformed, f.Name, len(f.Body), MaxFileSize)
		}
		if f.Removed && (len(f.Body) > 0 || f.HasServers) {
			return fmt.Errorf("%w: %s removed with content", ErrMalformed, f.Name)
		}
	}
	return nil
}

// ValidName accepts the names an enrolled file may have: a plain *.lic
// (license) or *.opt (vendor daemon options) file name, with no directory
// and nothing hidden, so that applying an entry writes only inside a
// member's license directory.
func ValidName(name string) error {
	switch {
	case name == "" || len(name) > maxName:
		return fmt.Errorf("license file name %q: empty or longer than %d bytes", name, maxName)
	case !IsLicense(name) && !IsOptions(name) || name == ".lic" || name == ".opt":
		return fmt.Errorf("license file name %q: does not end in .lic (a license file) or .opt (an options file)", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("license file name %q: starts with a dot", name)
	case strings.ContainsAny(name, "/\\\x00") || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("license file name %q: holds a slash, a backslash or a control character", name)
	}
	return nil
}

// IsLicense reports whether an enrolled name is a license file's.
func IsLicense(name string) bool { return strings.HasSuffix(name, ".lic") }

// IsOptions reports whether an enrolled name is a vendor daemon options
// file's (<vendor>.opt, or the OPTIONS= of a VENDOR line).
func IsOptions(name string) bool { return strings.HasSuffix(name, ".opt") }

// Set is the enrolled license files: the state every member builds by
// applying the same entries in the same order. Not safe for concurrent use.
type Set struct {
	// Initialized is set by the first enrolment: until then the triad
	// serves what each member has on disk.
	Initialized bool           `json:"i,omitempty"`
	Files       map[string]Doc `json:"f,omitempty"`
	// Passwords are the administrator passwords' credentials by level.
	Passwords map[string]adminauth.Credential `json:"pw,omitempty"`
}

// NewSet is an empty, uninitialized set.
func NewSet() *Set { return &Set{Files: map[string]Doc{}} }

// BaseOf is what File.Base says for name in s.
func (s *Set) BaseOf(name string) string {
	if d, ok := s.Files[name]; ok {
		return d.Digest()
	}
	return BaseNone
}

// Apply applies a committed entry and returns the names whose content
// changed, and the files not applied because they conflict (their Base is
// not what the set holds). A malformed entry changes nothing on any member.
func (s *Set) Apply(e Entry) (changed []string, conflicts []File, err error) {
	if err := check(&e); err != nil {
		return nil, nil, err
	}
	if s.Files == nil {
		s.Files = map[string]Doc{}
	}
	if e.Init {
		if s.Initialized {
			return nil, nil, nil // a second first enrolment (two masters' proposals in flight): the first stands
		}
		s.Initialized = true
	}
	for _, f := range e.Files {
		if f.Base != "" && f.Base != s.BaseOf(f.Name) {
			conflicts = append(conflicts, f)
			continue
		}
		old, had := s.Files[f.Name]
		switch {
		case f.Removed && had:
			delete(s.Files, f.Name)
		case f.Removed:
			continue
		case had && old.Equal(f.Doc):
			continue
		default:
			s.Files[f.Name] = Doc{Body: slices.Clone(f.Body), HasServers: f.HasServers}
		}
		changed = append(changed, f.Name)
	}
	if len(e.Files) > 0 {
		s.Initialized = true
	}
	for _, p := range e.Passwords {
		if p.Cred == nil {
			delete(s.Passwords, p.Level)
			continue
		}
		if s.Passwords == nil {
			s.Passwords = map[string]adminauth.Credential{}
		}
		s.Passwords[p.Level] = *p.Cred
	}
	return changed, conflicts, nil
}

// Names returns the enrolled file names in order.
func (s *Set) Names() []string { return slices.Sorted(maps.Keys(s.Files)) }

// Digest identifies the whole set: members serving the same enrolled
// files have the same digest.
func (s *Set) Digest() string {
	h := sha256.New()
	for _, n := range s.Names() {
		fmt.Fprintf(h, "%s\x00%s\x00", n, s.Files[n].Digest())
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Clone returns a deep copy (lmgrd hands one to its enrolment goroutine).
func (s *Set) Clone() *Set {
	c := &Set{Initialized: s.Initialized, Files: make(map[string]Doc, len(s.Files))}
	for n, d := range s.Files {
		c.Files[n] = Doc{Body: slices.Clone(d.Body), HasServers: d.HasServers}
	}
	if s.Passwords != nil {
		c.Passwords = maps.Clone(s.Passwords)
	}
	return c
}

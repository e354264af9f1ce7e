package licfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EntryKind tells the kinds of license search-path entry apart.
type EntryKind int

const (
	EntryFile       EntryKind = iota + 1 // a license file
	EntryDir                             // a directory: its *.lic files
	EntryPortAtHost                      // port@host or @host
	EntryTriad                           // port@h1,port@h2,port@h3
)

func (k EntryKind) String() string {
	switch k {
	case EntryFile:
		return "file"
	case EntryDir:
		return "directory"
	case EntryPortAtHost:
		return "port@host"
	case EntryTriad:
		return "triad"
	}
	return fmt.Sprintf("EntryKind(%d)", int(k))
}

// HostPort is one license server of a search-path entry. Port 0 comes from
// @host and means: try DefaultPort to DefaultPort+9.
type HostPort struct {
	Host string
	Port int
}

func (hp HostPort) String() string {
	if hp.Port == 0 {
		return "@" + hp.Host
	}
	return strconv.Itoa(hp.Port) + "@" + hp.Host
}

// Entry is one entry of a license search path.
type Entry struct {
	Kind    EntryKind
	Text    string     // as written
	Path    string     // EntryFile and EntryDir
	Servers []HostPort // one for EntryPortAtHost, three for EntryTriad
	Index   int        // 1-based position in the search path
}

// SearchPathError is a bad entry of a search path.
type SearchPathError struct {
	Index int    // 1-based position in the search path
	Text  string // the entry as written
	Msg   string
}

func (e *SearchPathError) Error() string {
	return fmt.Sprintf("license search path entry %d %q: %s", e.Index, e.Text, e.Msg)
}

// ParseSearchPath splits a license search path (LM_LICENSE_FILE, lmgrd -c)
// into typed entries. Entries are separated by ':' or ';'; each is a license
// file, a directory (stat says so; nil means os.Stat), port@host, @host or a
// triad port@h1,port@h2,port@h3 (exactly three servers, each with a port). An
// entry that contains '/' is a path even if it holds an '@'. Empty entries
// are skipped, a repeated entry is dropped, and bad entries are left out and
// returned as *SearchPathError values.
func ParseSearchPath(s string, stat func(string) (fs.FileInfo, error)) ([]Entry, []error) {
	if stat == nil {
		stat = os.Stat
	}
	var (
		entries []Entry
		errs    []error
		seen    = map[string]bool{}
	)
	index := 0 // counts empty entries too, so that positions match the text
	for _, text := range strings.Split(strings.ReplaceAll(s, ";", ":"), ":") {
		index++
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		e, msg := parseEntry(text, stat)
		if msg != "" {
			errs = append(errs, &SearchPathError{Index: index, Text: text, Msg: msg})
			continue
		}
		e.Index = index
		if id := entryID(e); !seen[id] {
			seen[id] = true
			entries = append(entries, e)
		}
	}
	return entries, errs
}

// parseEntry classifies one entry; msg says what is wrong with a bad one.
func parseEntry(text string, stat func(string) (fs.FileInfo, error)) (e Entry, msg string) {
	e.Text = text
	if strings.Contains(text, "/") || !strings.Contains(text, "@") {
		e.Kind, e.Path = EntryFile, text
		if fi, err := stat(text); err == nil && fi.IsDir() {
			e.Kind = EntryDir
		}
		return e, ""
	}
	if !strings.Contains(text, ",") {
		hp, msg := parseHostPort(text, false)
		e.Kind, e.Servers = EntryPortAtHost, []HostPort{hp}
		return e, msg
	}
	parts := strings.Split(text, ",")
	if len(parts) != 3 {
		return e, fmt.Sprintf("a triad needs exactly three port@host servers, got %d", len(parts))
	}
	e.Kind = EntryTriad
	for i, part := range parts {
		hp, msg := parseHostPort(part, true)
		if msg != "" {
			return e, fmt.Sprintf("server %d of the triad: %s", i+1, msg)
		}
		e.Servers = append(e.Servers, hp)
	}
	return e, ""
}

func parseHostPort(s string, needPort bool) (HostPort, string) {
	ps, host, _ := strings.Cut(strings.TrimSpace(s), "@")
	hp := HostPort{Host: host}
	switch {
	case host == "" || strings.ContainsAny(host, "@ \t"):
		return hp, fmt.Sprintf("%q: want port@host with a host name", s)
	case ps == "" && needPort:
		return hp, fmt.Sprintf("%q: want port@host: a triad server needs its port", s)
	case ps == "":
		return hp, ""
	}
	n, ok := number(ps)
	if !ok || n < 1 || n > 65535 {
		return hp, fmt.Sprintf("port %q: want a number from 1 to 65535", ps)
	}
	hp.Port = n
	return hp, ""
}

// entryID identifies an entry for duplicate removal: the cleaned path, or
// the servers with host names in lower case.
func entryID(e Entry) string {
	if e.Kind == EntryFile || e.Kind == EntryDir {
		return "path " + filepath.Clean(e.Path)
	}
	ids := make([]string, len(e.Servers))
	for i, hp := range e.Servers {
		ids[i] = strings.ToLower(hp.String())
	}
	return "servers " + strings.Join(ids, ",")
}

// SearchPathFromEnv returns the license search path a client of vendor uses:
// <VENDOR>_LICENSE_FILE (vendor in upper case) first, then LM_LICENSE_FILE,
// joined with ':' and skipping unset ones. getenv nil means os.Getenv; an
// empty vendor consults LM_LICENSE_FILE only.
func SearchPathFromEnv(vendor string, getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	var parts []string
	if vendor != "" {
		parts = append(parts, getenv(strings.ToUpper(vendor)+"_LICENSE_FILE"))
	}
	parts = append(parts, getenv("LM_LICENSE_FILE"))
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ":")
}

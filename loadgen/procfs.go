package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procFS reads process figures from a /proc tree. Root is "/proc" on a real
// machine; tests point it at a directory of their own.
type procFS struct {
	Root string
}

// ProcStats is what loadgen reports about one server process.
type ProcStats struct {
	PID      int
	Name     string
	RSSKiB   int64 // VmRSS
	HWMKiB   int64 // VmHWM: the peak resident size
	FDs      int   // entries of /proc/PID/fd
	CPUTicks int64 // utime+stime, in clock ticks
	Threads  int   // Threads
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; 100
// on every Linux architecture Go supports.
const clockTicks = 100

// Stats reads one process's figures.
func (p procFS) Stats(pid int) (ProcStats, error) {
	st := ProcStats{PID: pid}
	dir := filepath.Join(p.Root, strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return st, err
	}
	fields := parseStatus(string(status))
	st.Name = fields["Name"]
	if st.RSSKiB, err = kib(fields["VmRSS"]); err != nil {
		return st, fmt.Errorf("pid %d: VmRSS: %w", pid, err)
	}
	st.HWMKiB, _ = kib(fields["VmHWM"])
	st.Threads, _ = strconv.Atoi(fields["Threads"])
	if st.FDs, err = p.countFDs(pid); err != nil {
		return st, err
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return st, err
	}
	ps, err := parseStat(string(stat))
	if err != nil {
		return st, fmt.Errorf("pid %d: %w", pid, err)
	}
	st.CPUTicks = ps.utime + ps.stime
	return st, nil
}

// countFDs counts the open file descriptors of pid.
func (p procFS) countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(filepath.Join(p.Root, strconv.Itoa(pid), "fd"))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// Children returns the pids whose parent is ppid, in ascending order.
func (p procFS) Children(ppid int) ([]int, error) {
	ents, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Root, e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		st, err := parseStat(string(b))
		if err == nil && st.ppid == ppid {
			kids = append(kids, pid)
		}
	}
	return kids, nil // ReadDir sorts by name, not number; callers do not care
}

// parseStatus splits /proc/PID/status into its "Key:\tvalue" lines.
func parseStatus(s string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// kib parses a status value such as "123456 kB".
func kib(v string) (int64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
	if num == "" {
		return 0, errors.New("missing")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, err
	}
	if unit != "" && unit != "kB" {
		return 0, fmt.Errorf("unit %q, want kB", unit)
	}
	return n, nil
}

type statFields struct {
	ppid         int
	utime, stime int64
}

// parseStat reads /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself hold blanks and parentheses, so the fields are
// counted from the last ')'.
func parseStat(s string) (statFields, error) {
	var st statFields
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return st, errors.New("stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return st, fmt.Errorf("stat: %d fields after the name, want at least 13", len(f))
	}
	var err error
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return st, fmt.Errorf("stat: ppid: %w", err)
	}
	if st.utime, err = strconv.ParseInt(f[11], 10, 64); err != nil {
		return st, fmt.Errorf("stat: utime: %w", err)
	}
	if st.stime, err = strconv.ParseInt(f[12], 10, 64); err != nil {
		return st, fmt.Errorf("stat: stime: %w", err)
	}
	return st, nil
}

// serverPIDs is lmgrd's pid and its vendor daemon children, or the pids
// given explicitly.
func (p procFS) serverPIDs(lmgrd int, explicit []int) ([]int, error) {
	if len(explicit) > 0 {
		return explicit, nil
	}
	if lmgrd == 0 {
		return nil, nil
	}
	kids, err := p.Children(lmgrd)
	if err != nil {
		return nil, err
	}
	return append([]int{lmgrd}, kids...), nil
}

// Sample is the sum over the server's processes at one moment.
type Sample struct {
	Procs    []ProcStats
	RSSKiB   int64
	FDs      int
	CPUTicks int64
}

func (p procFS) sample(pids []int) (Sample, error) {
	var s Sample
	for _, pid := range pids {
		st, err := p.Stats(pid)
		if err != nil {
			return s, err
		}
		s.Procs = append(s.Procs, st)
		s.RSSKiB += st.RSSKiB
		s.FDs += st.FDs
		s.CPUTicks += st.CPUTicks
	}
	return s, nil
}

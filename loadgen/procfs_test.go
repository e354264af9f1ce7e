package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

const statusVendord = `Name:	vendord
Umask:	0022
State:	S (sleeping)
Tgid:	14031
Pid:	14031
PPid:	14022
FDSize:	16384
VmPeak:	 1262316 kB
VmHWM:	  310744 kB
VmRSS:	  303520 kB
RssAnon:	  296812 kB
Threads:	12
`

func TestParseStatus(t *testing.T) {
	m := parseStatus(statusVendord)
	for _, tc := range []struct{ key, want string }{
		{"Name", "vendord"},
		{"VmRSS", "303520 kB"},
		{"Threads", "12"},
		{"Missing", ""},
	} {
		if got := m[tc.key]; got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestKiB(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"303520 kB", 303520, false},
		{"  42 kB ", 42, false},
		{"17", 17, false},
		{"", 0, true},
		{"12 MB", 0, true},
		{"x kB", 0, true},
	} {
		got, err := kib(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("kib(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    statFields
		wantErr bool
	}{
		{"plain", "14031 (vendord) S 14022 14022 1 0 -1 4194560 9093 0 0 0 1523 377 0 0 20 0 12 0 9041 1262316 75880",
			statFields{ppid: 14022, utime: 1523, stime: 377}, false},
		{"name with blanks and parentheses", "77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1",
			statFields{ppid: 1, utime: 5, stime: 6}, false},
		{"no name", "77 vendord S 1", statFields{}, true},
		{"truncated", "77 (x) S 1 2 3", statFields{}, true},
		{"bad ppid", "77 (x) S p 1 1 0 -1 0 0 0 0 0 5 6 0", statFields{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// fakeProc writes a /proc tree of processes pid → (ppid, fds).
func fakeProc(t *testing.T, procs map[int][2]int) procFS {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		status := "Name:\tp" + strconv.Itoa(pid) + "\nVmRSS:\t" + strconv.Itoa(pid*10) + " kB\nThreads:\t3\n"
		stat := strconv.Itoa(pid) + " (p x) S " + strconv.Itoa(p[0]) + " 0 0 0 -1 0 0 0 0 0 " + strconv.Itoa(pid) + " 1 0"
		write(t, filepath.Join(dir, "status"), status)
		write(t, filepath.Join(dir, "stat"), stat)
		for i := range p[1] {
			write(t, filepath.Join(dir, "fd", strconv.Itoa(i)), "")
		}
	}
	write(t, filepath.Join(root, "self"), "") // not a pid: skipped
	return procFS{Root: root}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProcFS(t *testing.T) {
	p := fakeProc(t, map[int][2]int{100: {1, 4}, 101: {100, 7}, 102: {100, 2}, 200: {1, 1}})
	kids, err := p.Children(100)
	if err != nil || len(kids) != 2 || kids[0] != 101 || kids[1] != 102 {
		t.Fatalf("Children(100) = %v, %v; want [101 102]", kids, err)
	}
	pids, err := p.serverPIDs(100, nil)
	if err != nil || len(pids) != 3 {
		t.Fatalf("serverPIDs(100) = %v, %v; want lmgrd and two children", pids, err)
	}
	if got, _ := p.serverPIDs(100, []int{200}); len(got) != 1 || got[0] != 200 {
		t.Errorf("explicit pids: got %v, want [200]", got)
	}
	s, err := p.sample(pids)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1000 + 1010 + 1020); s.RSSKiB != want {
		t.Errorf("RSS: got %d KiB, want %d", s.RSSKiB, want)
	}
	if s.FDs != 13 {
		t.Errorf("fds: got %d, want 13", s.FDs)
	}
	if want := int64(100 + 101 + 102 + 3); s.CPUTicks != want {
		t.Errorf("CPU ticks: got %d, want %d", s.CPUTicks, want)
	}
	if _, err := p.Stats(999); err == nil {
		t.Error("Stats of a missing pid: no error")
	}
}

func TestProcFSSelf(t *testing.T) {
	st, err := procFS{Root: "/proc"}.Stats(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if st.RSSKiB <= 0 || st.FDs <= 0 || st.Threads <= 0 {
		t.Errorf("own process: %+v, want positive RSS, fds and threads", st)
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runLmutil runs lmutil with args and returns the exit code and output.
func runLmutil(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeLic writes a license file into dir and returns its path.
func writeLic(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const banner = "lmcksum - Copyright (c) 2026 The lmtriad Authors. All Rights Reserved.\n"

func TestLmcksum(t *testing.T) {
	dir := t.TempDir()
	good := writeLic(t, dir, "good.lic", "SERVER h ANY 27000\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent 5 SIGN=0\nINCREMENT viewer demo 2.0 permanent 2 SIGN=0\n"+
		"UPGRADE viewer demo 2.0 3.0 permanent 1 SIGN=0\nPACKAGE suite demo COMPONENTS=solver SIGN=0\n")
	deadServer := fmt.Sprintf("%d@127.0.0.1", closedPort(t)) // never a name to resolve: no traffic off this machine
	bad := writeLic(t, dir, "bad.lic", "VENDOR demo\nFEATURE solver demo 1.0 permanent 5 SIGN=0\n"+
		"# comment\nFEATURE viewer demo 1.0 \\\n\t31-foo-2020 2 SIGN=0\nINCREMENT x demo 1.0 permanent 1 FOO=1 SIGN=0\n")
	tests := []struct {
		name     string
		args     []string
		env      string // LM_LICENSE_FILE
		wantCode int
		want     string // stdout, with the temporary directory written D; ending in "(-15,570:", its start
	}{
		{"valid file", []string{"lmutil", "lmcksum", "-c", good}, "", 0, banner +
			"lmcksum: using license file \"D/good.lic\"\n" +
			"FEATURE solver demo 1.0 permanent 5: OK\nINCREMENT viewer demo 2.0 permanent 2: OK\nUPGRADE viewer demo 3.0 permanent 1: OK\nPACKAGE suite demo: OK\n"},
		{"invalid line", []string{"lmutil", "lmcksum", "-c", bad}, "", 1, banner +
			"lmcksum: using license file \"D/bad.lic\"\n" +
			"FEATURE solver demo 1.0 permanent 5: OK\n" +
			"D/bad.lic:4: FEATURE viewer: expiry \"31-foo-2020\": want d-mmm-yyyy, \"permanent\" or year 0\n" +
			"INCREMENT x demo 1.0 permanent 1: OK\n" +
			"D/bad.lic:6: warning: INCREMENT x: unknown keyword FOO kept\n"},
		{"one feature", []string{"lmutil", "lmcksum", "-c", good, "viewer"}, "", 0, banner +
			"lmcksum: using license file \"D/good.lic\"\nINCREMENT viewer demo 2.0 permanent 2: OK\nUPGRADE viewer demo 3.0 permanent 1: OK\n"},
		{"unknown feature", []string{"lmutil", "lmcksum", "-c", good, "nope"}, "", 1, banner +
			"lmcksum: using license file \"D/good.lic\"\nlmcksum: no line for feature \"nope\"\n"},
		{"LM_LICENSE_FILE", []string{"lmutil", "lmcksum"}, good, 0, banner +
			"lmcksum: using license file \"D/good.lic\"\n" +
			"FEATURE solver demo 1.0 permanent 5: OK\nINCREMENT viewer demo 2.0 permanent 2: OK\nUPGRADE viewer demo 3.0 permanent 1: OK\nPACKAGE suite demo: OK\n"},
		{"-c beats LM_LICENSE_FILE", []string{"lmutil", "lmcksum", "-c", bad}, good, 1, ""},
		{"no license file", []string{"lmutil", "lmcksum"}, "", 1, banner +
			"lmcksum: no license file: give -c file or set LM_LICENSE_FILE (-1: Cannot find license file.)\n"},
		{"missing file", []string{"lmutil", "lmcksum", "-c", "D/none.lic"}, "", 1, banner +
			"D/none.lic: cannot read license file: no such file (-1: Cannot find license file.)\n"},
		{"server that does not answer", []string{"lmutil", "lmcksum", "-c", deadServer}, "", 1, banner +
			deadServer + ": Cannot connect to license server system. (-15,570:"},
		{"through a link", []string{"/usr/local/bin/lmcksum", "-c", good, "solver"}, "", 0, banner +
			"lmcksum: using license file \"D/good.lic\"\nFEATURE solver demo 1.0 permanent 5: OK\n"},
		{"through a Windows copy", []string{`lmcksum.exe`, "-c", bad}, "", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LM_LICENSE_FILE", tt.env)
			args := append([]string(nil), tt.args...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "D/", dir+"/")
			}
			code, out, errOut := runLmutil(t, args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if got := strings.ReplaceAll(out, dir, "D"); tt.want != "" && got != tt.want && !(strings.HasSuffix(tt.want, "(-15,570:") && strings.HasPrefix(got, tt.want)) {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLmcksumTestdata runs lmcksum over the repository's license files: the
// good ones pass, each broken one fails and names its file and a line.
func TestLmcksumTestdata(t *testing.T) {
	good, _ := filepath.Glob("../testdata/*.lic")
	broken, _ := filepath.Glob("../testdata/broken/*.lic")
	if len(good) == 0 || len(broken) == 0 {
		t.Fatal("no license files under ../testdata")
	}
	for _, path := range good {
		if code, out, _ := runLmutil(t, "lmutil", "lmcksum", "-c", path); code != 0 {
			t.Errorf("lmcksum -c %s: exit %d, want 0\n%s", path, code, out)
		}
	}
	lineRef := regexp.MustCompile(`(?m)^\.\./testdata/broken/[a-z-]+\.lic:[1-9][0-9]*: `)
	for _, path := range broken {
		code, out, _ := runLmutil(t, "lmutil", "lmcksum", "-c", path)
		if code != 1 || !lineRef.MatchString(out) {
			t.Errorf("lmcksum -c %s: exit %d, want 1 and a file:line error\n%s", path, code, out)
		}
	}
	// A directory: every *.lic in it, in name order.
	code, out, _ := runLmutil(t, "lmutil", "lmcksum", "-c", "../testdata")
	if code != 0 || strings.Count(out, "lmcksum: using license file") != len(good) {
		t.Errorf("lmcksum -c ../testdata: exit %d, want 0 and %d files\n%s", code, len(good), out)
	}
}

func TestLinkArgs(t *testing.T) {
	app := newApp(nil, nil, defaultEnvironment("lmutil"))
	tests := []struct {
		in, want []string
	}{
		{[]string{"lmutil", "lmcksum", "-c", "f"}, []string{"lmutil", "lmcksum", "-c", "f"}},
		{[]string{"/opt/bin/lmutil", "lmver"}, []string{"/opt/bin/lmutil", "lmver"}},
		{[]string{"/opt/bin/lmcksum", "-c", "f"}, []string{"lmutil", "lmcksum", "-c", "f"}},
		{[]string{`lmver.exe`}, []string{"lmutil", "lmver"}},
		{[]string{"./lmfoo", "x"}, []string{"./lmfoo", "x"}},
		{[]string{"help"}, []string{"help"}},
		{nil, []string{"lmutil"}},
	}
	for _, tt := range tests {
		got := linkArgs(app, tt.in)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") || len(got) != len(tt.want) {
			t.Errorf("linkArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLmver(t *testing.T) {
	want := regexp.MustCompile(`^lmutil v0\.1\.0 build 1 [a-z0-9]+_[a-z0-9]+\n$`)
	for _, args := range [][]string{{"lmutil", "lmver"}, {"lmver"}} {
		code, out, _ := runLmutil(t, args...)
		if code != 0 || !want.MatchString(out) {
			t.Errorf("%q: exit %d, output %q; want 0 and %v", args, code, out, want)
		}
	}
	// The test binary is built from this module, as lmgrd would be.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := runLmutil(t, "lmutil", "lmver", self)
	if wantSelf := filepath.Base(self) + " v0.1.0 build 1 "; code != 0 || !strings.HasPrefix(out, wantSelf) {
		t.Errorf("lmver %s: exit %d, output %q; want 0 and %q...", self, code, out, wantSelf)
	}
	notGo := writeLic(t, t.TempDir(), "x.lic", "not a program")
	if code, _, errOut := runLmutil(t, "lmutil", "lmver", notGo); code != 1 || !strings.Contains(errOut, "not a program lmver can read") {
		t.Errorf("lmver of a text file: exit %d, stderr %q; want 1 and an error", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"lmutil", "nosuch"}, `lmutil: unknown command "nosuch" (see lmutil help)`},
		{[]string{"lmutil", "lmcksum", "-x"}, "Incorrect Usage: flag provided but not defined: -x\nSee: lmutil lmcksum -h"},
		{[]string{"lmutil", "-x"}, "Incorrect Usage: flag provided but not defined: -x\nSee: lmutil -h"},
	}
	for _, tt := range tests {
		code, _, errOut := runLmutil(t, tt.args...)
		if code != 1 || strings.TrimSpace(errOut) != tt.wantErr {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.wantErr)
		}
	}
	if code, out, _ := runLmutil(t, "lmutil"); code != 0 || !strings.Contains(out, "lmcksum") {
		t.Errorf("lmutil alone: exit %d, want 0 and the help\n%s", code, out)
	}
}

func TestCommandsNotOfferedSaySo(t *testing.T) {
	code, _, errOut := runLmutil(t, "lmutil", "lminstall", "-i", "x")
	if code == 0 || !strings.Contains(errOut, "lminstall is not offered by this license manager") {
		t.Errorf("lminstall: exit %d, %q", code, errOut)
	}
	code, _, errOut = runLmutil(t, "lmutil", "lmfrobnicate")
	if code == 0 || !strings.Contains(errOut, `unknown command "lmfrobnicate"`) {
		t.Errorf("lmfrobnicate: exit %d, %q", code, errOut)
	}
}

func TestLmpathStatus(t *testing.T) {
	env := &environment{getenv: func(k string) string {
		if k == "LM_LICENSE_FILE" {
			return "27000@lic1"
		}
		return ""
	}, environFunc: func() []string {
		return []string{"PATH=/bin", "LM_LICENSE_FILE=27000@lic1", "DEMO_LICENSE_FILE=/opt/demo.lic"}
	}}
	var out, errOut bytes.Buffer
	code := runEnv([]string{"lmutil", "lmpath", "-status"}, &out, &errOut, env)
	if code != 0 || !strings.Contains(out.String(), "Known Vendors:\n_____________\ndemo: /opt/demo.lic\n") ||
		!strings.Contains(out.String(), "Other Vendors:\n______________\n27000@lic1\n") {
		t.Errorf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := runEnv([]string{"lmutil", "lmpath", "-add", "all", "/x"}, &out, &errOut, env); code == 0 ||
		!strings.Contains(errOut.String(), "not offered") {
		t.Errorf("lmpath -add: exit %d %s", code, errOut.String())
	}
}

func TestManualPageFromTheFlags(t *testing.T) {
	code, out, errOut := runLmutil(t, "lmutil", "--man")
	if code != 0 || !strings.Contains(out, ".TH lmutil 1") || !strings.Contains(out, "lmstat") || !strings.Contains(out, "lmpasswd") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

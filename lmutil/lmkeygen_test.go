package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/lmtriad/lmtriad/clusterkey"
)

func TestLmkeygen(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.key")
	if err := os.WriteFile(existing, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string // D/ is the temporary directory
		wantCode   int
		wantOut    *regexp.Regexp // stdout, with the temporary directory written D
		wantErr    string         // in stderr, with the temporary directory written D
		wantKeyFor string         // a key file the command must have written
	}{
		{name: "new key", args: []string{"lmutil", "lmkeygen", "-cluster", "D/a.key"},
			wantOut:    regexp.MustCompile(`^Wrote cluster key D/a\.key \(id [0-9a-f]{16}\); give the same file to all three lmgrds with -cluster-key D/a\.key\n$`),
			wantKeyFor: "D/a.key"},
		{name: "double-dash flag", args: []string{"lmutil", "lmkeygen", "--cluster=D/b.key"},
			wantOut: regexp.MustCompile(`^Wrote cluster key D/b\.key \(id [0-9a-f]{16}\)`), wantKeyFor: "D/b.key"},
		{name: "through a link", args: []string{"/usr/local/bin/lmkeygen", "-cluster", "D/c.key"},
			wantOut: regexp.MustCompile(`^Wrote cluster key D/c\.key `), wantKeyFor: "D/c.key"},
		{name: "file exists", args: []string{"lmutil", "lmkeygen", "-cluster", "D/existing.key"},
			wantCode: 1, wantErr: "lmkeygen: D/existing.key already exists"},
		{name: "no -cluster", args: []string{"lmutil", "lmkeygen"},
			wantCode: 1, wantErr: "lmkeygen: -cluster FILE is required (vendor signing keys are not offered yet)"},
		{name: "vendor and directory", args: []string{"lmutil", "lmkeygen", "demo", "D/"},
			wantCode: 1, wantErr: "lmkeygen: -cluster FILE is required (vendor signing keys are not offered yet)"},
		{name: "extra argument", args: []string{"lmutil", "lmkeygen", "-cluster", "D/d.key", "demo"},
			wantCode: 1, wantErr: "takes no other arguments"},
		{name: "no such directory", args: []string{"lmutil", "lmkeygen", "-cluster", "D/none/e.key"},
			wantCode: 1, wantErr: "D/none/e.key"},
		{name: "unknown flag", args: []string{"lmutil", "lmkeygen", "-x"},
			wantCode: 1, wantErr: "Incorrect Usage: flag provided but not defined: -x\nSee: lmutil lmkeygen -h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string(nil), tt.args...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "D/", dir+"/")
			}
			code, out, errOut := runLmutil(t, args...)
			out, errOut = strings.ReplaceAll(out, dir, "D"), strings.ReplaceAll(errOut, dir, "D")
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if tt.wantOut != nil && !tt.wantOut.MatchString(out) {
				t.Errorf("stdout:\n%s\nwant %v", out, tt.wantOut)
			}
			if tt.wantErr != "" && !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr:\n%s\nwant %q", errOut, tt.wantErr)
			}
			if tt.wantKeyFor == "" {
				return
			}
			path := strings.ReplaceAll(tt.wantKeyFor, "D/", dir+"/")
			key, err := clusterkey.Load(path)
			if err != nil {
				t.Fatalf("the written key: %v", err)
			}
			if !strings.Contains(out, "(id "+key.ID()+")") {
				t.Errorf("stdout %q does not show id %s", out, key.ID())
			}
			if fi, err := os.Stat(path); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("stat %s: %v, %v; want mode 0600", path, fi, err)
			}
		})
	}
	if data, _ := os.ReadFile(existing); string(data) != "keep me\n" {
		t.Errorf("the existing file was overwritten: %q", data)
	}
}

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/licsign"
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
			wantCode: 1, wantErr: "lmkeygen: want -cluster FILE or VENDOR DIR"},
		{name: "vendor only", args: []string{"lmutil", "lmkeygen", "demo"},
			wantCode: 1, wantErr: "lmkeygen: want -cluster FILE or VENDOR DIR"},
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

func TestLmkeygenVendor(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runLmutil(t, "lmutil", "lmkeygen", "demo", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	keyPath, pubPath := filepath.Join(dir, "demo.key"), filepath.Join(dir, "demo.pub")
	if want := "Wrote " + keyPath + " (private"; !strings.HasPrefix(out, want) {
		t.Errorf("stdout %q, want %q...", out, want)
	}
	k, err := licsign.LoadPrivateKey(keyPath)
	if err != nil || k.Vendor != "demo" {
		t.Fatalf("the private key: %v %v", k, err)
	}
	pubs, err := licsign.LoadPublicKeys(pubPath)
	if err != nil || len(pubs) != 1 || !pubs[0].Key.Equal(k.Public().Key) {
		t.Fatalf("the public key: %v %v", pubs, err)
	}
	if fi, err := os.Stat(keyPath); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("stat %s: %v, %v; want mode 0600", keyPath, fi, err)
	}
	before, _ := os.ReadFile(keyPath)
	code, _, errOut = runLmutil(t, "lmutil", "lmkeygen", "demo", dir)
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second run: exit %d, stderr %q; want a refusal", code, errOut)
	}
	if after, _ := os.ReadFile(keyPath); string(after) != string(before) {
		t.Error("the private key was overwritten")
	}
	for _, args := range [][]string{{"bad vendor", dir}, {"demo2", filepath.Join(dir, "none")}} {
		if code, _, errOut := runLmutil(t, append([]string{"lmutil", "lmkeygen"}, args...)...); code != 1 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

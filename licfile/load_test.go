package licfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles creates files (name -> content) under a temporary directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodLine = "FEATURE f v 1.0 permanent 1" + sign + "\n"

func TestExpandDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.lic": goodLine, "a.lic": goodLine, "c.dat": goodLine, "sub.lic/x.lic": goodLine, "A.lic": goodLine,
	})
	got, err := ExpandDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "A.lic"), filepath.Join(dir, "a.lic"), filepath.Join(dir, "b.lic")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExpandDir = %q, want %q", got, want)
	}
	if _, err := ExpandDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("ExpandDir of a missing directory: no error")
	}
}

func TestLoad(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"lic/b.lic":  goodLine,
		"lic/a.lic":  goodLine,
		"one.dat":    goodLine,
		"bad.lic":    "FEATURE f v 1.0 permanent x" + sign + "\n" + goodLine,
		"empty/note": "",
	})
	tests := []struct {
		name      string
		spec      string
		wantFiles []string // relative to dir
		wantErr   string   // with dir replaced by D
	}{
		{"file", "D/one.dat", []string{"one.dat"}, ""},
		{"directory in name order", "D/lic", []string{"lic/a.lic", "lic/b.lic"}, ""},
		{"search path, duplicates read once", "D/one.dat:D/lic:D/lic/a.lic;D/one.dat", []string{"one.dat", "lic/a.lic", "lic/b.lic"}, ""},
		{"parse errors keep the good lines", "D/bad.lic", []string{"bad.lic"},
			`D/bad.lic:1: FEATURE f: count "x": want a number or "uncounted"`},
		{"missing file", "D/one.dat:D/missing.lic", []string{"one.dat"},
			"D/missing.lic: cannot read license file: no such file (-1: Cannot find license file.)"},
		{"empty directory", "D/empty", nil, "D/empty: directory holds no *.lic file"},
		{"servers are not files", "27000@h:D/one.dat:1@a,1@b,1@c:1@x,2@y", []string{"one.dat"},
			"1@x,2@y: a triad needs exactly three port@host servers, got 2\n" +
				"27000@h: a license server address, not a license file: lmgrd -c needs files or directories\n" +
				"1@a,1@b,1@c: a license server address, not a license file: lmgrd -c needs files or directories"},
		{"nothing", "", nil, `license path "": no license file given (-1: Cannot find license file.)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Load(strings.ReplaceAll(tt.spec, "D", dir))
			var got []string
			for _, f := range files {
				rel, _ := filepath.Rel(dir, f.Name)
				got = append(got, rel)
				if len(f.Features) != 1 {
					t.Errorf("%s: %d feature lines, want 1", rel, len(f.Features))
				}
			}
			if !reflect.DeepEqual(got, tt.wantFiles) {
				t.Errorf("files = %q, want %q", got, tt.wantFiles)
			}
			gotErr := ""
			if err != nil {
				var list ErrorList
				if !errors.As(err, &list) {
					t.Fatalf("error is a %T, want ErrorList", err)
				}
				gotErr = strings.ReplaceAll(err.Error(), dir, "D")
			}
			if gotErr != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", gotErr, tt.wantErr)
			}
		})
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "none.lic"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile of a missing file: %v, want an os.ErrNotExist error", err)
	}
}

func TestServerAddrs(t *testing.T) {
	f, err := Parse("t.lic", []byte("SERVER a ANY 27100\nSERVER b ANY 27100\nSERVER c ANY 27100\nVENDOR v\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []HostPort{{"a", 27100}, {"b", 27100}, {"c", 27100}}
	if got := f.ServerAddrs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ServerAddrs = %v, want %v", got, want)
	}
	one, err := Parse("one.lic", []byte("SERVER h ANY\nVENDOR v\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := one.ServerAddrs(); !reflect.DeepEqual(got, []HostPort{{"h", 0}}) {
		t.Fatalf("no port: got %v, want port 0", got)
	}
}

package licfile

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

// dirInfo is a fs.FileInfo for a directory; the fake stat of the tests
// returns it for names starting with "dir".
type dirInfo struct{}

func (dirInfo) Name() string       { return "dir" }
func (dirInfo) Size() int64        { return 0 }
func (dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (dirInfo) ModTime() time.Time { return time.Time{} }
func (dirInfo) IsDir() bool        { return true }
func (dirInfo) Sys() any           { return nil }

func fakeStat(name string) (fs.FileInfo, error) {
	if strings.HasPrefix(name, "dir") {
		return dirInfo{}, nil
	}
	return nil, fs.ErrNotExist
}

func TestParseSearchPath(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []Entry
		wantErrs []string
	}{
		{"file", "license.dat", []Entry{{Kind: EntryFile, Text: "license.dat", Path: "license.dat", Index: 1}}, nil},
		{"unix list", "/opt/lic:40000@myserver:40000@mybackupserver", []Entry{
			{Kind: EntryFile, Text: "/opt/lic", Path: "/opt/lic", Index: 1},
			{Kind: EntryPortAtHost, Text: "40000@myserver", Servers: []HostPort{{"myserver", 40000}}, Index: 2},
			{Kind: EntryPortAtHost, Text: "40000@mybackupserver", Servers: []HostPort{{"mybackupserver", 40000}}, Index: 3},
		}, nil},
		{"windows separator", "27000@a;27000@b", []Entry{
			{Kind: EntryPortAtHost, Text: "27000@a", Servers: []HostPort{{"a", 27000}}, Index: 1},
			{Kind: EntryPortAtHost, Text: "27000@b", Servers: []HostPort{{"b", 27000}}, Index: 2},
		}, nil},
		{"at host", "@myserver", []Entry{{Kind: EntryPortAtHost, Text: "@myserver", Servers: []HostPort{{"myserver", 0}}, Index: 1}}, nil},
		{"triad", "dir1:27000@a,27001@b,27002@c", []Entry{
			{Kind: EntryDir, Text: "dir1", Path: "dir1", Index: 1},
			{Kind: EntryTriad, Text: "27000@a,27001@b,27002@c", Servers: []HostPort{{"a", 27000}, {"b", 27001}, {"c", 27002}}, Index: 2},
		}, nil},
		{"path with at sign", "/home/u@corp/l.lic", []Entry{{Kind: EntryFile, Text: "/home/u@corp/l.lic", Path: "/home/u@corp/l.lic", Index: 1}}, nil},
		{"duplicates dropped", "lic:27000@h:./lic:27000@H:lic", []Entry{
			{Kind: EntryFile, Text: "lic", Path: "lic", Index: 1},
			{Kind: EntryPortAtHost, Text: "27000@h", Servers: []HostPort{{"h", 27000}}, Index: 2},
		}, nil},
		{"empty entries skipped, counted", "::27000@h:", []Entry{
			{Kind: EntryPortAtHost, Text: "27000@h", Servers: []HostPort{{"h", 27000}}, Index: 3},
		}, nil},
		{"bad entries", "27000@:@:abc@h:0@h:1@a,2@b:@a,1@b,1@c:1@a,1@b,1@c,1@d:ok", []Entry{
			{Kind: EntryFile, Text: "ok", Path: "ok", Index: 8},
		}, []string{
			`license search path entry 1 "27000@": "27000@": want port@host with a host name`,
			`license search path entry 2 "@": "@": want port@host with a host name`,
			`license search path entry 3 "abc@h": port "abc": want a number from 1 to 65535`,
			`license search path entry 4 "0@h": port "0": want a number from 1 to 65535`,
			`license search path entry 5 "1@a,2@b": a triad needs exactly three port@host servers, got 2`,
			`license search path entry 6 "@a,1@b,1@c": server 1 of the triad: "@a": want port@host: a triad server needs its port`,
			`license search path entry 7 "1@a,1@b,1@c,1@d": a triad needs exactly three port@host servers, got 4`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ParseSearchPath(tt.in, fakeStat)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\n got %+v\nwant %+v", got, tt.want)
			}
			var gotErrs []string
			for _, err := range errs {
				gotErrs = append(gotErrs, err.Error())
			}
			if !reflect.DeepEqual(gotErrs, tt.wantErrs) {
				t.Errorf("errors:\n got %q\nwant %q", gotErrs, tt.wantErrs)
			}
		})
	}
}

func TestSearchPathFromEnv(t *testing.T) {
	tests := []struct {
		vendor string
		env    map[string]string
		want   string
	}{
		{"demo", map[string]string{"DEMO_LICENSE_FILE": "27000@a", "LM_LICENSE_FILE": "/l.lic"}, "27000@a:/l.lic"},
		{"Demo", map[string]string{"DEMO_LICENSE_FILE": "27000@a"}, "27000@a"},
		{"demo", map[string]string{"LM_LICENSE_FILE": "/l.lic"}, "/l.lic"},
		{"", map[string]string{"_LICENSE_FILE": "x", "LM_LICENSE_FILE": "/l.lic"}, "/l.lic"},
		{"demo", nil, ""},
	}
	for _, tt := range tests {
		got := SearchPathFromEnv(tt.vendor, func(k string) string { return tt.env[k] })
		if got != tt.want {
			t.Errorf("SearchPathFromEnv(%q) with %v = %q, want %q", tt.vendor, tt.env, got, tt.want)
		}
	}
}

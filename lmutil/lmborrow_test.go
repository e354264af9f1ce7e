package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/client"
)

func runBorrow(t *testing.T, file string, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	env := &environment{argv0: "lmutil", stdin: strings.NewReader(""), clock: func() time.Time { return now },
		getenv: func(k string) string {
			if k == "LM_BORROW_FILE" {
				return file
			}
			return ""
		}}
	var out, errOut bytes.Buffer
	code := runEnv(append([]string{"lmutil", "lmborrow"}, args...), &out, &errOut, env)
	return code, out.String(), errOut.String()
}

func TestLmborrowIntentStatusClear(t *testing.T) {
	file := filepath.Join(t.TempDir(), "b", "borrow.json")
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"start", []string{"demo", "05-mar-2026", "13:30"}, 0, "Setting borrow of demo licenses until 05-Mar-2026 13:30"},
		{"status", []string{"-status"}, 0, "Borrowing demo licenses until 05-Mar-2026 13:30"},
		{"default time", []string{"all", "06-mar-2026"}, 0, "until 06-Mar-2026 23:59"},
		{"past", []string{"demo", "01-feb-2026"}, 2, ""},
		{"bad date", []string{"demo", "2026-03-05"}, 2, ""},
		{"clear", []string{"-clear"}, 0, "Borrow intent cleared"},
		{"status after clear", []string{"-status"}, 0, "No licenses borrowed"},
		{"return unknown", []string{"-return", "solver"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBorrow(t, file, now, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("got %d %q %q, want %d and %q", code, out, errOut, tt.code, tt.out)
			}
		})
	}
	f, err := client.ReadBorrowFile(file)
	if err != nil || len(f.Intents) != 0 {
		t.Fatalf("after -clear: %+v %v", f, err)
	}
}

package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

func borrowOptions(t *testing.T, f *fakeServer, file string) Options {
	opts := testOptions(t, f.portAtHost())
	opts.BorrowFile = file
	return opts
}

func writeIntent(t *testing.T, file, vendor string, until time.Time) {
	t.Helper()
	if err := WriteBorrowFile(file, BorrowFile{Intents: []BorrowIntent{{Vendor: vendor, Until: until}}}); err != nil {
		t.Fatal(err)
	}
}

// With an intent, Checkout borrows, records it, and later checkouts (in
// another client, as another process) use the record without the server;
// Checkin keeps the borrow, Return ends it.
func TestBorrowIntentBorrowsAndIsReused(t *testing.T) {
	f := startFake(t, fakeConfig{Pools: []licfile.Pool{{Key: "k", Name: "f", Vendor: "demo", Version: "1.0", Count: 2, Borrow: 168}}})
	file := filepath.Join(t.TempDir(), "lmtriad", "borrow.json")
	until := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	writeIntent(t, file, "demo", until)

	c := newClient(t, borrowOptions(t, f, file))
	lic := checkout(t, c, "f", 1)
	if !lic.Borrowed() || !lic.BorrowedUntil().Equal(until) {
		t.Fatalf("got borrowed=%v until %v, want a borrow until %v", lic.Borrowed(), lic.BorrowedUntil(), until)
	}
	if f.count("BORROW") != 1 || f.count("CHECKOUT") != 0 {
		t.Fatalf("got %d BORROW %d CHECKOUT, want 1 and 0", f.count("BORROW"), f.count("CHECKOUT"))
	}
	if err := lic.Checkin(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if f.holders() != 1 {
		t.Fatalf("server holds %d, want the borrowed 1 after checkin and close", f.holders())
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("borrow file: %v, mode %v; want 0600", err, st.Mode())
	}
	if st, err := os.Stat(filepath.Dir(file)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("borrow dir: %v; want 0700", err)
	}

	c2 := newClient(t, borrowOptions(t, f, file))
	lic2 := checkout(t, c2, "f", 1)
	if !lic2.Borrowed() || lic2.Handle() != lic.Handle() || f.count("BORROW") != 1 || f.count("HELLO") != 1 {
		t.Fatalf("second checkout: borrowed=%v handle %d (want %d), %d BORROW, %d HELLO; want the local record",
			lic2.Borrowed(), lic2.Handle(), lic.Handle(), f.count("BORROW"), f.count("HELLO"))
	}

	if err := c2.Return(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	if f.holders() != 0 {
		t.Fatalf("server holds %d after Return, want 0", f.holders())
	}
	bf, err := ReadBorrowFile(file)
	if err != nil || len(bf.Borrowed) != 0 || len(bf.Intents) != 1 {
		t.Fatalf("borrow file after Return: %+v, %v; want the intent only", bf, err)
	}
	err = c2.Return(context.Background(), "f")
	if !errors.Is(err, wire.ErrNeverCheckout) {
		t.Fatalf("second Return: got %v, want -41", err)
	}
}

// A feature without BORROW is checked out as usual; an intent for another
// vendor or one that is over changes nothing.
func TestBorrowFallsBackToCheckout(t *testing.T) {
	for _, tt := range []struct {
		name, vendor string
		until        time.Duration
		borrow       int
		wantBorrows  int
	}{
		{"not borrowable", "all", time.Hour, 0, 1},
		{"other vendor", "other", time.Hour, 168, 0},
		{"intent over", "demo", -time.Hour, 168, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, fakeConfig{Pools: []licfile.Pool{{Key: "k", Name: "f", Vendor: "demo", Version: "1.0", Count: 2, Borrow: tt.borrow}}})
			file := filepath.Join(t.TempDir(), "borrow.json")
			writeIntent(t, file, tt.vendor, time.Now().Add(tt.until))
			c := newClient(t, borrowOptions(t, f, file))
			lic := checkout(t, c, "f", 1)
			if lic.Borrowed() || f.count("BORROW") != tt.wantBorrows || f.count("CHECKOUT") != 1 {
				t.Fatalf("borrowed=%v, %d BORROW, %d CHECKOUT; want an ordinary checkout", lic.Borrowed(), f.count("BORROW"), f.count("CHECKOUT"))
			}
		})
	}
}

func TestDefaultBorrowFile(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	get := func(k string) string { return env[k] }
	if got := DefaultBorrowFile(get); got != "/home/u/.lmtriad/borrow.json" {
		t.Fatalf("got %q", got)
	}
	env["LM_BORROW_FILE"] = "/tmp/b.json"
	if got := DefaultBorrowFile(get); got != "/tmp/b.json" {
		t.Fatalf("got %q", got)
	}
}

// Concurrent updates (processes borrowing at once) lose no record.
func TestUpdateBorrowFileSerialises(t *testing.T) {
	file := filepath.Join(t.TempDir(), "borrow.json")
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- UpdateBorrowFile(file, func(f *BorrowFile) error {
				f.Borrowed = append(f.Borrowed, BorrowedLicense{Feature: "f", Handle: uint64(i + 1), Until: time.Now().Add(time.Hour)})
				return nil
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	f, err := ReadBorrowFile(file)
	if err != nil || len(f.Borrowed) != n {
		t.Fatalf("got %d records (%v), want %d", len(f.Borrowed), err, n)
	}
}

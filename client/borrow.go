package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// Borrowing (lmutil lmborrow). A user records an intent in the borrow
// file: borrow the licenses of a vendor (or of all) until a time. While an
// intent holds, Checkout of a feature of that vendor sends BORROW instead
// of CHECKOUT and records the borrowed license in the borrow file; a
// borrowed license is held by the server without a connection until its
// end or its return (Client.Return). A later Checkout of the feature, in
// any process of this user, finds the record and returns a License held
// without asking the server; its Checkin keeps the borrow. A feature
// whose line has no BORROW (the server answers -67) is checked out as
// usual.

// BorrowFile is the content of the borrow file: JSON, private to its user
// (0600 in a 0700 directory).
type BorrowFile struct {
	Intents  []BorrowIntent    `json:"intents,omitempty"`
	Borrowed []BorrowedLicense `json:"borrowed,omitempty"`
}

// BorrowIntent says: borrow what is checked out of Vendor ("all": of any
// vendor) until Until.
type BorrowIntent struct {
	Vendor string    `json:"vendor"`
	Until  time.Time `json:"until"`
}

// BorrowedLicense is a license this machine borrowed.
type BorrowedLicense struct {
	Vendor  string `json:"vendor,omitempty"`
	Feature string `json:"feature"`
	Version string `json:"version,omitempty"` // the pool's version that granted it
	Count   int    `json:"count"`
	// Servers are the port@host of the server that granted it, then the
	// other servers of the search path then: where RETURN goes.
	Servers []string  `json:"servers"`
	Handle  uint64    `json:"handle"`
	Secret  string    `json:"secret"`
	Until   time.Time `json:"until"`
}

// DefaultBorrowFile is LM_BORROW_FILE, else $HOME/.lmtriad/borrow.json
// ("" when neither is set).
func DefaultBorrowFile(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("LM_BORROW_FILE"); p != "" {
		return p
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".lmtriad", "borrow.json")
	}
	return ""
}

// ReadBorrowFile reads the borrow file at path; a missing file is empty.
func ReadBorrowFile(path string) (BorrowFile, error) {
	var f BorrowFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return BorrowFile{}, fmt.Errorf("borrow file %s: %w", path, err)
	}
	return f, nil
}

// WriteBorrowFile replaces the borrow file at path with f, creating its
// directory (0700) as needed; the file is 0600 (it holds secrets).
func WriteBorrowFile(path string, f BorrowFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".borrow-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// UpdateBorrowFile reads the borrow file at path, lets change edit it and
// writes it back, holding a lock (path+".lock", flock) throughout so that
// the processes of a user that borrow at once lose no record.
func UpdateBorrowFile(path string, change func(*BorrowFile) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	f, err := ReadBorrowFile(path)
	if err != nil {
		return err
	}
	if err := change(&f); err != nil {
		return err
	}
	return WriteBorrowFile(path, f)
}

// Intent is the end of the intent that covers vendor at now (the latest
// of those not over), or the zero time.
func (f *BorrowFile) Intent(vendor string, now time.Time) time.Time {
	var until time.Time
	for _, in := range f.Intents {
		if (in.Vendor == "all" || in.Vendor == vendor) && in.Until.After(now) && in.Until.After(until) {
			until = in.Until
		}
	}
	return until
}

// Prune drops the intents and borrowed licenses over at now.
func (f *BorrowFile) Prune(now time.Time) {
	f.Intents = slices.DeleteFunc(f.Intents, func(in BorrowIntent) bool { return !in.Until.After(now) })
	f.Borrowed = slices.DeleteFunc(f.Borrowed, func(b BorrowedLicense) bool { return !b.Until.After(now) })
}

func (c *Client) borrowFile() (BorrowFile, bool) {
	if c.opts.BorrowFile == "" {
		return BorrowFile{}, false
	}
	f, err := ReadBorrowFile(c.opts.BorrowFile)
	if err != nil {
		c.opts.Logger.WithError(err).Warn("borrow file unreadable: borrowing ignored")
		return BorrowFile{}, false
	}
	return f, true
}

// localBorrow is a License for a borrowed license of feature recorded in
// the borrow file, or nil.
func (c *Client) localBorrow(feature, version string, count int) *License {
	f, ok := c.borrowFile()
	if !ok {
		return nil
	}
	now := time.Now()
	for _, b := range f.Borrowed {
		if b.Feature != feature || !b.Until.After(now) || b.Count < count ||
			(c.opts.Vendor != "" && b.Vendor != c.opts.Vendor) ||
			(version != "" && licfile.CompareVersions(b.Version, version) < 0) {
			continue
		}
		server := ""
		if len(b.Servers) > 0 {
			server = b.Servers[0]
		}
		return &License{c: c, Feature: feature, Version: version, Count: b.Count, events: make(chan Event, 16),
			handle: b.Handle, secret: b.Secret, granted: b.Version, server: server, vendor: b.Vendor,
			held: true, borrowed: true, until: b.Until}
	}
	return nil
}

// borrowUntil is the end of the borrow intent for vendor, or the zero time.
func (c *Client) borrowUntil(vendor string) time.Time {
	f, ok := c.borrowFile()
	if !ok {
		return time.Time{}
	}
	return f.Intent(vendor, time.Now())
}

// recordBorrow adds lic, just borrowed, to the borrow file.
func (c *Client) recordBorrow(lic *License) error {
	servers := []string{lic.server}
	if groups, err := c.groups(); err == nil {
		for _, g := range groups {
			for _, a := range g.addrs {
				if pa := portAtHost(a); !slices.Contains(servers, pa) {
					servers = append(servers, pa)
				}
			}
		}
	}
	return UpdateBorrowFile(c.opts.BorrowFile, func(f *BorrowFile) error {
		f.Prune(time.Now())
		f.Borrowed = append(f.Borrowed, BorrowedLicense{Vendor: lic.vendor, Feature: lic.Feature, Version: lic.granted,
			Count: lic.Count, Servers: servers, Handle: lic.handle, Secret: lic.secret, Until: lic.until})
		return nil
	})
}

// Return gives back the borrowed license of feature recorded in the borrow
// file before its end (lmborrow -return), to the servers of the search path
// when one was given (Options.LicensePath), else to those recorded, and
// removes the record. A server that no longer knows the license (-41: it
// ended, or was returned) also removes the record, and Return reports it.
func (c *Client) Return(ctx context.Context, feature string) error {
	f, err := ReadBorrowFile(c.opts.BorrowFile)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(f.Borrowed, func(b BorrowedLicense) bool {
		return b.Feature == feature && (c.opts.Vendor == "" || b.Vendor == c.opts.Vendor)
	})
	if i < 0 {
		return wire.NewError(wire.CodeNeverCheckout, 1).WithDetail(feature + " is not borrowed on this machine")
	}
	b := f.Borrowed[i]
	var addrs []string
	if c.opts.LicensePath != "" {
		groups, err := c.groups()
		if err != nil {
			return err
		}
		for _, g := range groups {
			addrs = append(addrs, g.addrs...)
		}
	} else {
		for _, s := range b.Servers {
			if a, ok := addrOf(s); ok {
				addrs = append(addrs, a)
			}
		}
	}
	req := wire.New("RETURN", "feature", feature, "handle", strconv.FormatUint(b.Handle, 10), "secret", b.Secret)
	err = wire.NewError(wire.CodeNoServer, 1).WithDetail("no server to return " + feature + " to")
	tried := map[string]bool{}
	for j := 0; j < len(addrs); j++ {
		addr := addrs[j]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		var l *link
		var resp wire.Message
		l, resp, err = c.dialLink(ctx, addr, feature)
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
			resp, _, err = l.do(rctx, req)
			cancel()
			l.close(errors.New("client: returned"))
		}
		if err == nil || errors.Is(err, wire.ErrNeverCheckout) {
			break
		}
		if master, ok := addrOf(resp.Get("master")); ok && isBusy(err) && !tried[master] {
			addrs = append(addrs[:j+1], append([]string{master}, addrs[j+1:]...)...)
		}
	}
	if err != nil && !errors.Is(err, wire.ErrNeverCheckout) {
		return err
	}
	if werr := UpdateBorrowFile(c.opts.BorrowFile, func(f *BorrowFile) error {
		f.Borrowed = slices.DeleteFunc(f.Borrowed, func(x BorrowedLicense) bool {
			return x.Feature == b.Feature && x.Handle == b.Handle && x.Secret == b.Secret
		})
		return nil
	}); werr != nil {
		return werr
	}
	return err
}

// Borrowed reports whether the license is borrowed: held by the server
// without a connection until BorrowedUntil.
func (l *License) Borrowed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.borrowed
}

// BorrowedUntil is the end of a borrowed license's borrow (zero if not borrowed).
func (l *License) BorrowedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/lmtriad/lmtriad/enrol"
	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/quorum"
	"github.com/lmtriad/lmtriad/table"
)

// A triad member's state directory holds:
//
//	lock                            held (flock) while an lmgrd uses the directory; says its pid
//	raft.db                         the raft log (quorum.BoltStorage)
//	raft.db.damaged-YYYYMMDD-HHMMSS a raft log found damaged at start, kept for a post-mortem
//
// At start lmgrd takes the lock, checks raft.db before trusting it (the
// bbolt meta pages and the file's length, every page reachable from the
// root, every record) and reads the tables from its snapshot. A damaged
// file is renamed aside, never deleted, and the member starts with an
// empty log: it rebuilds from its peers instead of serving from a log it
// cannot trust.

const (
	stateLockName = "lock"
	stateLogName  = "raft.db"
)

// memberState is what openState found: the locked directory and the
// store.
type memberState struct {
	dir   string
	lock  *os.File // flock held until Close, or the process's exit
	store *quorum.BoltStorage
	snap  uint64 // the snapshot's index
	// rebuilding: the store was started empty in a directory that had
	// served a member before (its log missing or moved aside): the member
	// rebuilds its log from its peers.
	rebuilding bool
}

// openState locks dir and opens its raft log, moving a damaged one aside.
// decode reads the snapshot's data (empty for a new log) into the
// caller's state; an error from it is damage too. The error of a
// directory in use or not writable names the directory.
func openState(log logrus.FieldLogger, dir string, noFsync bool, decode func([]byte) error) (*memberState, error) {
	lock, used, err := lockStateDir(dir)
	if err != nil {
		return nil, err
	}
	ms := &memberState{dir: dir, lock: lock}
	path := filepath.Join(dir, stateLogName)
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, os.ErrNotExist)
	var damage error
	if !missing {
		damage = checkLogFile(path)
	}
	if damage == nil {
		err = ms.open(path, noFsync, decode)
		if err == nil {
			if missing && used {
				log.Warnf("Triad state %s is missing: this member starts with an empty log and rebuilds it from its peers", path)
				ms.rebuilding = true
			}
			return ms, nil
		}
		if !isDamage(err) {
			lock.Close()
			return nil, stateError(dir, err)
		}
		damage = err
	}
	if !isDamage(damage) {
		lock.Close()
		return nil, stateError(dir, damage)
	}
	log.Errorf("Triad state %s is damaged: %v", path, damage)
	aside, err := moveAside(path)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("triad state %s is damaged and cannot be moved aside: %w", path, err)
	}
	log.Warnf("Triad state: the damaged log is kept as %s; this member starts with an empty log and rebuilds it from its peers", aside)
	ms.rebuilding = true
	if err := ms.open(path, noFsync, decode); err != nil {
		lock.Close()
		return nil, stateError(dir, err)
	}
	return ms, nil
}

// open opens the store at path and decodes its snapshot.
func (ms *memberState) open(path string, noFsync bool, decode func([]byte) error) (err error) {
	defer recoverDamage(&err)
	store, err := quorum.OpenBoltStorage(path)
	if err != nil {
		return err
	}
	store.NoFsync = noFsync
	snap, err := store.Snapshot()
	if err == nil {
		err = decode(snap.Data)
	}
	if err != nil {
		store.Close()
		return damaged("its snapshot: %w", err)
	}
	ms.store, ms.snap = store, snap.Metadata.Index
	return nil
}

// Close releases the store and the directory.
func (ms *memberState) Close() {
	if ms.store != nil {
		ms.store.Close()
	}
	ms.lock.Close()
}

// damageError is what the checks found wrong with the file itself.
type damageError struct{ err error }

func (e damageError) Error() string { return e.err.Error() }
func (e damageError) Unwrap() error { return e.err }

func damaged(format string, a ...any) error { return damageError{fmt.Errorf(format, a...)} }

// isDamage tells a damaged file from a directory that cannot be written
// (full, read-only, no permission), which moving the file aside would not
// mend, and from a file another process holds.
func isDamage(err error) bool {
	switch {
	case errors.As(err, new(damageError)):
		return true
	case errors.Is(err, quorum.ErrLocked), isStorageFull(err), errors.Is(err, syscall.EROFS),
		errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EIO):
		return false
	}
	// bbolt's and quorum's own findings: invalid or mismatched meta pages,
	// checksums, records that do not decode, a log that is not contiguous.
	return true
}

func isStorageFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func stateError(dir string, err error) error {
	switch {
	case errors.Is(err, quorum.ErrLocked):
		return fmt.Errorf("state directory %s is in use by another lmgrd: %w", dir, err)
	case isStorageFull(err):
		return fmt.Errorf("state directory %s is full: %w", dir, err)
	}
	return fmt.Errorf("triad state %s: %w", dir, err)
}

// recoverDamage turns a panic or a memory fault while reading a damaged
// file (bbolt trusts its pages) into an error.
func recoverDamage(err *error) {
	if r := recover(); r != nil {
		*err = damaged("reading it failed: %v", r)
	}
}

// lockStateDir creates dir (0700) and takes its lock file, writing this
// process's pid into it. used reports that the lock file was there
// before: the directory has served a member already.
func lockStateDir(dir string) (lock *os.File, used bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, stateLockName)
	_, statErr := os.Stat(path)
	used = statErr == nil
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, stateError(dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another lmgrd"
			if p := strings.TrimSpace(string(pid)); p != "" {
				holder += " (pid " + p + ")"
			}
			return nil, false, fmt.Errorf("state directory %s is in use by %s: %s is locked; "+
				"two members cannot share a state directory (give each its own -state DIR)", dir, holder, path)
		}
		return nil, false, fmt.Errorf("state directory %s: cannot lock %s: %w", dir, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, used, nil
}

// moveAside renames a damaged log to raft.db.damaged-YYYYMMDD-HHMMSS
// (-2, -3... when that name is taken) and syncs the directory.
func moveAside(path string) (string, error) {
	base := path + ".damaged-" + time.Now().Format("20060102-150405")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		if i > 100 {
			return "", fmt.Errorf("%s and 99 more names taken", base)
		}
		aside = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return aside, nil
}

// checkLogFile checks a bbolt file before it is trusted: the meta page
// bbolt would use must be valid and describe pages that are all inside
// the file (bbolt maps the file and would fault on a page cut off), and
// every page reachable from its root must read as bbolt expects. It only
// reads: a damaged file is kept as found.
func checkLogFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return damaged("the file is empty")
	}
	if err := checkMeta(path, fi.Size()); err != nil {
		return err
	}
	return walkLog(path)
}

// walkLog opens the file read-only, reads every bucket, key and value,
// then runs bbolt's own consistency check (page references, the
// freelist). bbolt trusts its pages: reading a damaged one may panic or
// fault, which this goroutine recovers (a file that faults while it is
// opened stays open until the process exits; it is renamed aside all the
// same). bbolt's check runs on a goroutine of its own, so it comes last,
// over pages already read here.
func walkLog(path string) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer recoverDamage(&err)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond, PreLoadFreelist: true})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return fmt.Errorf("%w: %s", quorum.ErrLocked, path)
		}
		return damaged("%w", err)
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		if err := tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walkBucket(b) }); err != nil {
			return damaged("%w", err)
		}
		var first error
		for err := range tx.Check() { // drained: the check reads the pages until it closes it
			if first == nil {
				first = damaged("%w", err)
			}
		}
		return first
	})
}

func walkBucket(b *bbolt.Bucket) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				if err := walkBucket(nested); err != nil {
					return err
				}
			}
			continue
		}
		_ = crc32.ChecksumIEEE(v) // touch every byte: a wild page faults here
	}
	return nil
}

// bbolt's meta page, after the 16-byte page header, in the machine's byte
// order: magic, version, page size, flags, root bucket (page, sequence),
// freelist page, high-water mark (pages in use), txid, FNV-1a checksum of
// what precedes it.
const (
	boltPageHeader = 16
	boltMetaSize   = 64
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
)

type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

func parseBoltMeta(b []byte) (boltMeta, error) {
	if len(b) < boltPageHeader+boltMetaSize {
		return boltMeta{}, errors.New("meta page cut off")
	}
	m := b[boltPageHeader : boltPageHeader+boltMetaSize]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, errors.New("not a bbolt meta page (magic)")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt version %d", v)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return boltMeta{}, errors.New("meta page checksum")
	}
	return boltMeta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, nil
}

// checkMeta reads both meta pages with plain reads, as bbolt picks one
// (the valid one of the higher transaction), and checks that its pages
// lie inside the file.
func checkMeta(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	read := func(off int64) []byte {
		b := make([]byte, boltPageHeader+boltMetaSize)
		n, _ := f.ReadAt(b, off)
		return b[:n]
	}
	m0, err0 := parseBoltMeta(read(0))
	pageSize := int64(os.Getpagesize())
	if err0 == nil {
		pageSize = int64(m0.pageSize)
	}
	m1, err1 := parseBoltMeta(read(pageSize))
	var m boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return damaged("both bbolt meta pages are invalid (%v; %v)", err0, err1)
	case err1 != nil || (err0 == nil && m0.txid >= m1.txid):
		m = m0
	default:
		m = m1
	}
	ps := int64(m.pageSize)
	if ps < 512 || ps&(ps-1) != 0 {
		return damaged("page size %d", ps)
	}
	if m.pgid < 4 || m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != ^uint64(0)) {
		return damaged("meta page describes pages %d (root %d, freelist %d)", m.pgid, m.root, m.freelist)
	}
	if need := int64(m.pgid) * ps; size < need {
		return damaged("the file is %d bytes long, its pages need %d (cut off?)", size, need)
	}
	return nil
}

// watchRebuild logs, for a member whose log was lost or damaged, when it
// has caught up from its peers (quorum's Status.Rebuilding ends): from
// then on it votes again and may serve. It reads the status the run loop
// publishes, on a goroutine of its own that ends with lmgrd.
func (t *triad) watchRebuild() {
	if !t.state.rebuilding {
		return
	}
	t.s.log.Infof("Triad: rebuilding the log of %s from the peers: this member neither votes nor serves until it has caught up", t.state.dir)
	t.s.wg.Add(1)
	go func() {
		defer t.s.wg.Done()
		tick := time.NewTicker(t.timing.Tick)
		defer tick.Stop()
		for {
			select {
			case <-t.s.ctx.Done():
				return
			case <-tick.C:
			}
			if st := t.currentStatus(); !st.Rebuilding {
				t.s.log.Infof("Triad: log rebuilt from the peers (caught up at entry %d)", st.Applied)
				return
			}
		}
	}()
}

// stuckLog is a raft log that could not be written (quorum.ErrStorage:
// a full disk, a read-only or failing file system). The node has stopped:
// it acknowledges, votes and serves nothing, so the others go on without
// this member and nothing it did not store is counted on. Once a test
// write in the state directory succeeds, a new node is made on the same
// store, as a restarted process would (its startup promise applies).
type stuckLog struct {
	err     error
	since   time.Time
	next    time.Time // the next test write
	backoff time.Duration
	warned  flexlog.Throttle
}

const (
	stuckRetryFirst = 500 * time.Millisecond
	stuckRetryMax   = 10 * time.Second
	probeSize       = 256 << 10 // the test write: a few bbolt transactions' worth
)

// storageFailed handles an error of Ready: false when it is not a storage
// failure. Called from the run loop on every cycle while the log is stuck.
func (t *triad) storageFailed(err error) bool {
	if !errors.Is(err, quorum.ErrStorage) {
		return false
	}
	now := time.Now()
	st := t.node.Status()
	t.mu.Lock()
	t.status = st // INFO shows the failure (Status.StorageErr), and no master here
	t.mu.Unlock()
	if t.stuck == nil {
		t.stuck = &stuckLog{err: err, since: now, next: now.Add(stuckRetryFirst), backoff: stuckRetryFirst}
		t.s.log.Errorf("Triad: the raft log in %s cannot be written (%s): %v", t.state.dir, stateTrouble(err), err)
		t.s.log.Errorf("Triad: this member stops acknowledging and serving until its raft log can be written again; the other two go on without it")
		return true
	}
	if now.Before(t.stuck.next) {
		return true
	}
	if perr := probeWrite(t.state.dir); perr != nil {
		t.stuck.backoff = min(2*t.stuck.backoff, stuckRetryMax)
		t.stuck.next = now.Add(t.stuck.backoff)
		if ok, _ := t.stuck.warned.Allow(now, time.Minute); ok {
			t.s.log.Warnf("Triad: the raft log in %s still cannot be written (%s) after %v: %v",
				t.state.dir, stateTrouble(perr), now.Sub(t.stuck.since).Round(time.Second), perr)
		}
		return true
	}
	if rerr := t.renewNode(); rerr != nil {
		t.stuck.next = now.Add(t.stuck.backoff)
		t.s.log.Errorf("Triad: the raft log in %s can be written, but the member cannot restart on it: %v", t.state.dir, rerr)
		return true
	}
	t.s.log.Infof("Triad: the raft log in %s can be written again (after %v): this member rejoins the triad",
		t.state.dir, now.Sub(t.stuck.since).Round(time.Millisecond))
	t.stuck = nil
	return true
}

// stateTrouble names a storage failure for the log and lmstat.
func stateTrouble(err error) string {
	switch {
	case isStorageFull(err):
		return "state directory full"
	case errors.Is(err, syscall.EROFS):
		return "state directory read-only"
	}
	return "state directory not writable"
}

// storageNote is lmstat's note on this member for Status.StorageErr.
func storageNote(storageErr string) string {
	for _, e := range []struct {
		errno syscall.Errno
		note  string
	}{{syscall.ENOSPC, "state directory full"}, {syscall.EDQUOT, "state directory full"}, {syscall.EROFS, "state directory read-only"}} {
		if strings.Contains(storageErr, e.errno.Error()) {
			return e.note + " (" + e.errno.Error() + ")"
		}
	}
	return "raft log cannot be written: " + storageErr
}

// probeWrite writes, syncs and removes a file of probeSize in dir.
func probeWrite(dir string) error {
	path := filepath.Join(dir, ".write-test")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	_, err = f.Write(make([]byte, probeSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// renewNode makes a new node on the store, as a restart would: the tables
// and enrolled files come back from the store's snapshot and the node
// applies the committed entries after it again.
func (t *triad) renewNode() error {
	snap, err := t.store.Snapshot()
	if err != nil {
		return err
	}
	opts := tablePoolOptions(t.s)
	tables, enrolled := table.New(opts), enrol.NewSet()
	if len(snap.Data) > 0 {
		if tables, enrolled, err = decodeState(snap.Data, opts); err != nil {
			return err
		}
	}
	node, err := quorum.New(t.node.Config(), t.store)
	if err != nil {
		return err
	}
	t.node, t.tables, t.enrolled, t.enrolDirty = node, tables, enrolled, true
	t.shown.Store(tables)
	t.start, t.lastSnap = t.clock(), snap.Metadata.Index
	st := node.Status()
	t.mu.Lock()
	t.status = st
	t.mu.Unlock()
	return nil
}

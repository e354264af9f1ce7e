package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Storage is where raft keeps its log, hard state and snapshots. Reads are
// raft.Storage's; Save persists one Ready's hard state and entries at once,
// on stable storage before returning when sync is set (raft's MustSync: new
// entries, or a new term or vote; a commit index alone can be relearnt).
type Storage interface {
	raft.Storage
	Save(hs raftpb.HardState, entries []raftpb.Entry, sync bool) error
	ApplySnapshot(snap raftpb.Snapshot) error
	CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (raftpb.Snapshot, error)
	Compact(compactIndex uint64) error
}

// bootstrap is the snapshot every member's log starts from: index 1, term
// 1, the three voters. No configuration change is ever made.
func bootstrap() raftpb.Snapshot {
	return raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1,
		ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
}

// MemoryStorage keeps the log in memory only: for tests.
type MemoryStorage struct{ *raft.MemoryStorage }

// NewMemoryStorage returns an empty log at the bootstrap snapshot.
func NewMemoryStorage() *MemoryStorage {
	ms := raft.NewMemoryStorage()
	_ = ms.ApplySnapshot(bootstrap()) // an empty MemoryStorage takes any later snapshot
	return &MemoryStorage{ms}
}

// Save appends entries and sets the hard state.
func (m *MemoryStorage) Save(hs raftpb.HardState, entries []raftpb.Entry, _ bool) error {
	if err := m.Append(entries); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		return m.SetHardState(hs)
	}
	return nil
}

// BoltStorage keeps raft's log, hard state and last snapshot in a bbolt
// file (one file, transactions, fsync on commit), with a copy in memory
// that serves raft's reads. The file is locked: a second lmgrd on the same
// state directory is refused.
//
// Every change is written to the file first and made in memory only once
// its transaction committed, so after a failed write (a full disk) the
// copy in memory is still what the file holds, and a new Node made on the
// same BoltStorage (New) starts from exactly that. The one thing memory
// may hold ahead of the file is a commit index alone (lazyHS, see Save),
// which raft can relearn; it stays pending until a write succeeds.
type BoltStorage struct {
	*raft.MemoryStorage
	db   *bbolt.DB
	path string
	// NoFsync leaves every write in the operating system's cache: it
	// survives the process (kill -9) but not the machine (a power cut).
	NoFsync bool
	// lazyHS is a hard state whose only news is the commit index, not
	// written yet (see Save).
	lazyHS raftpb.HardState
	// failWrites, when set, makes every write transaction fail with it
	// after its changes (tests: a full disk; bbolt rolls them back).
	failWrites error
}

var (
	bucketEntries = []byte("entries")   // 8-byte big-endian index -> raftpb.Entry
	bucketMeta    = []byte("meta")      // keys below
	keyHardState  = []byte("hardstate") // raftpb.HardState
	keySnapshot   = []byte("snapshot")  // raftpb.Snapshot
)

// ErrLocked means another process holds the store.
var ErrLocked = errors.New("quorum: the state is in use by another lmgrd")

// OpenBoltStorage opens (or creates) the store at path, mode 0600.
func OpenBoltStorage(path string) (*BoltStorage, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("quorum: state directory: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 500 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("quorum: %s: %w", path, err)
	}
	s := &BoltStorage{MemoryStorage: raft.NewMemoryStorage(), db: db, path: path}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("quorum: %s is damaged: %w", path, err)
	}
	return s, nil
}

// load fills the memory copy from the file; a new file gets the bootstrap.
func (s *BoltStorage) load() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		ents, err := tx.CreateBucketIfNotExists(bucketEntries)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		snap := bootstrap()
		if b := meta.Get(keySnapshot); b != nil {
			snap = raftpb.Snapshot{}
			if err := unmarshalPB(&snap, b); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		} else {
			b, err := snap.Marshal()
			if err != nil {
				return err
			}
			if err := meta.Put(keySnapshot, b); err != nil {
				return err
			}
		}
		if err := s.MemoryStorage.ApplySnapshot(snap); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if b := meta.Get(keyHardState); b != nil {
			var hs raftpb.HardState
			if err := unmarshalPB(&hs, b); err != nil {
				return fmt.Errorf("hard state: %w", err)
			}
			if err := s.MemoryStorage.SetHardState(hs); err != nil {
				return err
			}
		}
		var list []raftpb.Entry
		next := snap.Metadata.Index + 1
		c := ents.Cursor()
		for k, v := c.Seek(indexKey(next)); k != nil; k, v = c.Next() {
			var e raftpb.Entry
			if err := unmarshalPB(&e, v); err != nil {
				return fmt.Errorf("entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if e.Index != next || binary.BigEndian.Uint64(k) != e.Index {
				return fmt.Errorf("entry %d where %d was expected", e.Index, next)
			}
			list = append(list, e)
			next++
		}
		return s.MemoryStorage.Append(list)
	})
}

type pbUnmarshaler interface{ Unmarshal([]byte) error }

// unmarshalPB runs raftpb's generated decoder, which must not take the
// process down on a damaged file.
func unmarshalPB(m pbUnmarshaler, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder: %v", r)
		}
	}()
	return m.Unmarshal(b)
}

func indexKey(i uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], i)
	return k[:]
}

// Save writes the hard state and entries in one transaction (one fsync
// when sync), replacing any entries from the first new index on, then
// updates memory. Without sync the write reaches the disk with the next
// synced one, or the operating system's own flush.
func (s *BoltStorage) Save(hs raftpb.HardState, entries []raftpb.Entry, sync bool) error {
	if len(entries) == 0 && raft.IsEmptyHardState(hs) {
		return nil
	}
	if len(entries) == 0 && !sync {
		// Only the commit index moved (raft's MustSync is false): it can be
		// relearnt after a restart, so it waits for the next write instead
		// of costing a transaction of its own on every commit.
		s.lazyHS = hs
		return s.MemoryStorage.SetHardState(hs)
	}
	if raft.IsEmptyHardState(hs) && !raft.IsEmptyHardState(s.lazyHS) {
		hs = s.lazyHS
	}
	if len(entries) > 0 {
		// What MemoryStorage.Append would refuse, refused before the file
		// is touched.
		first, last := s.firstIndex(), s.lastIndex()
		if entries[0].Index > last+1 {
			return fmt.Errorf("quorum: entry %d after the last, %d", entries[0].Index, last)
		}
		if entries[len(entries)-1].Index < first {
			entries = nil // all compacted already
		}
	}
	s.db.NoSync = !sync || s.NoFsync
	defer func() { s.db.NoSync = false }()
	err := s.update(func(tx *bbolt.Tx) error {
		if len(entries) > 0 {
			b := tx.Bucket(bucketEntries)
			if err := deleteRange(b, entries[0].Index, math.MaxUint64); err != nil {
				return err
			}
			for i := range entries {
				v, err := entries[i].Marshal()
				if err != nil {
					return err
				}
				if err := b.Put(indexKey(entries[i].Index), v); err != nil {
					return err
				}
			}
		}
		if !raft.IsEmptyHardState(hs) {
			v, err := hs.Marshal()
			if err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyHardState, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quorum: %s: %w", s.path, err) // memory and lazyHS as they were
	}
	s.lazyHS = raftpb.HardState{}
	if err := s.MemoryStorage.Append(entries); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		return s.MemoryStorage.SetHardState(hs)
	}
	return nil
}

// update runs one write transaction (failWrites makes it fail after fn).
func (s *BoltStorage) update(fn func(tx *bbolt.Tx) error) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.failWrites
	})
}

func (s *BoltStorage) snapshotIndex() uint64 {
	snap, _ := s.MemoryStorage.Snapshot()
	return snap.Metadata.Index
}

func (s *BoltStorage) firstIndex() uint64 { i, _ := s.MemoryStorage.FirstIndex(); return i }
func (s *BoltStorage) lastIndex() uint64  { i, _ := s.MemoryStorage.LastIndex(); return i }

// ApplySnapshot replaces the log with a snapshot from the leader.
func (s *BoltStorage) ApplySnapshot(snap raftpb.Snapshot) error {
	if snap.Metadata.Index <= s.snapshotIndex() {
		return raft.ErrSnapOutOfDate
	}
	if err := s.putSnapshot(snap, true); err != nil {
		return err
	}
	return s.MemoryStorage.ApplySnapshot(snap)
}

// CreateSnapshot records the state machine at index i and keeps it.
func (s *BoltStorage) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (raftpb.Snapshot, error) {
	if i <= s.snapshotIndex() {
		return raftpb.Snapshot{}, raft.ErrSnapOutOfDate
	}
	if i > s.lastIndex() {
		return raftpb.Snapshot{}, fmt.Errorf("quorum: snapshot at %d beyond the last entry, %d", i, s.lastIndex())
	}
	term, err := s.MemoryStorage.Term(i)
	if err != nil {
		return raftpb.Snapshot{}, err
	}
	snap := raftpb.Snapshot{Data: data, Metadata: raftpb.SnapshotMetadata{Index: i, Term: term}}
	if cs != nil {
		snap.Metadata.ConfState = *cs
	}
	if err := s.putSnapshot(snap, false); err != nil {
		return raftpb.Snapshot{}, err
	}
	return s.MemoryStorage.CreateSnapshot(i, cs, data)
}

func (s *BoltStorage) putSnapshot(snap raftpb.Snapshot, dropLog bool) error {
	v, err := snap.Marshal()
	if err != nil {
		return err
	}
	err = s.update(func(tx *bbolt.Tx) error {
		if dropLog {
			if err := deleteRange(tx.Bucket(bucketEntries), 0, math.MaxUint64); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySnapshot, v)
	})
	if err != nil {
		return fmt.Errorf("quorum: %s: %w", s.path, err)
	}
	return nil
}

// Compact drops the entries before compactIndex.
func (s *BoltStorage) Compact(compactIndex uint64) error {
	if compactIndex < s.firstIndex() {
		return raft.ErrCompacted
	}
	if compactIndex > s.snapshotIndex() {
		// The file's entries must start right after its snapshot.
		return fmt.Errorf("quorum: compacting to %d, past the snapshot at %d", compactIndex, s.snapshotIndex())
	}
	err := s.update(func(tx *bbolt.Tx) error {
		return deleteRange(tx.Bucket(bucketEntries), 0, compactIndex)
	})
	if err != nil {
		return fmt.Errorf("quorum: %s: %w", s.path, err)
	}
	return s.MemoryStorage.Compact(compactIndex)
}

// deleteRange deletes the entries with from <= index < to. Keys are
// collected first: deleting under a moving cursor skips keys.
func deleteRange(b *bbolt.Bucket, from, to uint64) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(indexKey(from)); k != nil && binary.BigEndian.Uint64(k) < to; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file and its lock.
func (s *BoltStorage) Close() error { return s.db.Close() }

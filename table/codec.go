package table

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
)

// Format bytes (the first byte of every blob) and their versions (the second).
const (
	formatEntry    byte = 1
	formatTables   byte = 2
	formatSnapshot byte = 3

	entryVersion1   byte = 1 // JSON, written until version 2; still read
	entryVersion    byte = 2 // binary (entry2.go), written by EncodeEntry
	tablesVersion   byte = 1
	snapshotVersion byte = 1
)

var formatName = [...]string{formatEntry: "entry", formatTables: "tables", formatSnapshot: "snapshot"}

var (
	// ErrMalformed is wrapped by every decoding error, and by Apply for an
	// entry that could not be encoded.
	ErrMalformed = errors.New("table: malformed data")
	// ErrNotContinuation is wrapped by Apply's error for an entry whose
	// deltas do not continue the vendor's table.
	ErrNotContinuation = errors.New("table: entry does not continue the table")
)

// ---- wire structs: the v1 JSON of every blob (see the package doc) ----

type wireEntry struct {
	Proposer int         `json:"prop,omitempty"`
	Vendor   string      `json:"vnd,omitempty"`
	Gen      uint64      `json:"gen,omitempty"`
	Deltas   []wireDelta `json:"d,omitempty"`
}

type wireDelta struct {
	Seq    uint64      `json:"seq"`
	Kind   int         `json:"k"`
	Time   string      `json:"t,omitempty"`
	Holder *wireHolder `json:"h,omitempty"`
	Reason int         `json:"r,omitempty"`
	Pools  []wirePool  `json:"pools,omitempty"`
	Moves  []wireMove  `json:"moves,omitempty"`
	Code   int         `json:"c,omitempty"`
}

type wireHolder struct {
	Handle      uint64   `json:"hnd,omitempty"`
	Feature     string   `json:"feat,omitempty"`
	PoolKey     string   `json:"pk,omitempty"`
	PoolVersion string   `json:"pv,omitempty"`
	Version     string   `json:"ver,omitempty"`
	Count       int      `json:"n,omitempty"`
	Session     uint64   `json:"sess,omitempty"`
	User        string   `json:"user,omitempty"`
	Host        string   `json:"host,omitempty"`
	Display     string   `json:"disp,omitempty"`
	PID         int      `json:"pid,omitempty"`
	HostIDs     []string `json:"ids,omitempty"`
	VendorDef   string   `json:"vdef,omitempty"`
	Start       string   `json:"start,omitempty"`
	LastSeen    string   `json:"seen,omitempty"`
	Secret      string   `json:"sec,omitempty"`
	IP          string   `json:"ip,omitempty"`
	Project     string   `json:"proj,omitempty"`
	LingerUntil string   `json:"lu,omitempty"`
	Linger      int64    `json:"lng,omitempty"`
	BorrowUntil string   `json:"bu,omitempty"`
}

type wireMove struct {
	Handle      uint64 `json:"hnd,omitempty"`
	PoolKey     string `json:"pk,omitempty"`
	PoolVersion string `json:"pv,omitempty"`
}

type wirePool struct {
	Key          string    `json:"key,omitempty"`
	Name         string    `json:"name,omitempty"`
	Vendor       string    `json:"vnd,omitempty"`
	Version      string    `json:"ver,omitempty"`
	Expiry       []int     `json:"exp,omitempty"`
	ExpiryText   string    `json:"expt,omitempty"`
	Start        []int     `json:"start,omitempty"`
	Count        int       `json:"n,omitempty"`
	Uncounted    bool      `json:"unc,omitempty"`
	HostID       string    `json:"hid,omitempty"`
	VendorString string    `json:"vstr,omitempty"`
	DupGroup     string    `json:"dup,omitempty"`
	Overdraft    int       `json:"od,omitempty"`
	UserBased    bool      `json:"ub,omitempty"`
	HostBased    bool      `json:"hb,omitempty"`
	Borrow       int       `json:"bor,omitempty"`
	Lines        []wirePos `json:"lines,omitempty"`
}

type wirePos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

type wireSnapshot struct {
	Seq        uint64       `json:"seq,omitempty"`
	NextHandle uint64       `json:"next,omitempty"`
	Pools      []wirePool   `json:"pools,omitempty"`
	Holders    []wireHolder `json:"holders,omitempty"`
	Queued     []wireHolder `json:"queued,omitempty"`
	Named      []wireNamed  `json:"named,omitempty"`
}

type wireNamed struct {
	PoolKey  string `json:"pk,omitempty"`
	User     string `json:"user,omitempty"`
	LastUsed string `json:"lu,omitempty"`
}

type wireTables struct {
	Vendors []wireVendor `json:"vendors,omitempty"`
}

type wireVendor struct {
	Vendor string       `json:"vnd,omitempty"`
	Table  wireSnapshot `json:"tbl"`
}

// ---- public codecs ----

// EncodeEntry encodes e as a raft log entry (format 1, version 2: binary).
// It fails for an entry that cannot be decoded back the same: an empty
// vendor, a negative proposer, an unknown delta kind or release reason, a
// time outside years 0-9999.
func EncodeEntry(e Entry) ([]byte, error) {
	return encodeEntry2(&e)
}

// encodeEntryV1 encodes e as EncodeEntry did before version 2 (format 1,
// version 1: JSON). Only tests use it, to pin version 1, which DecodeEntry
// still reads.
func encodeEntryV1(e Entry) ([]byte, error) {
	w, err := entryToWire(e)
	if err != nil {
		return nil, err
	}
	return encode(formatEntry, entryVersion1, w)
}

// DecodeEntry decodes an entry blob of either version: the binary one
// EncodeEntry writes, or the JSON of version 1 (logs written before version
// 2). Every error wraps ErrMalformed. It never panics, and what it allocates
// is bounded by a multiple of len(b).
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) >= 2 && b[0] == formatEntry && b[1] == entryVersion {
		return decodeEntry2(b[2:])
	}
	var w *wireEntry
	if err := decode(b, formatEntry, entryVersion1, &w); err != nil {
		return Entry{}, err
	}
	if w == nil {
		return Entry{}, malformed("entry is null")
	}
	return entryFromWire(w)
}

// EncodeSnapshot encodes one vendor's table (format 3, version 1).
func EncodeSnapshot(s pool.Snapshot) ([]byte, error) {
	w, err := snapshotToWire(s)
	if err != nil {
		return nil, err
	}
	return encode(formatSnapshot, snapshotVersion, w)
}

// DecodeSnapshot decodes an EncodeSnapshot blob. Every error wraps
// ErrMalformed. Its Pools and Holders are never nil, as pool.State.Snapshot
// makes them. It does not check that the snapshot is consistent:
// pool.Restore does.
func DecodeSnapshot(b []byte) (pool.Snapshot, error) {
	var w *wireSnapshot
	if err := decode(b, formatSnapshot, snapshotVersion, &w); err != nil {
		return pool.Snapshot{}, err
	}
	if w == nil {
		return pool.Snapshot{}, malformed("snapshot is null")
	}
	return snapshotFromWire(w)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func encode(format, version byte, v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("table: encoding %s: %w", formatName[format], err)
	}
	out := make([]byte, 0, 2+len(js))
	out = append(out, format, version)
	return append(out, js...), nil
}

// decode checks the header of b and decodes its JSON strictly into v.
func decode(b []byte, format, version byte, v any) error {
	what := formatName[format]
	if len(b) < 2 {
		return malformed("%s: %d bytes, too short for a header", what, len(b))
	}
	if b[0] != format {
		if int(b[0]) < len(formatName) && formatName[b[0]] != "" {
			return malformed("want %s (format %d), got %s (format %d)", what, format, formatName[b[0]], b[0])
		}
		return malformed("want %s (format %d), got unknown format %d", what, format, b[0])
	}
	if b[1] != version {
		if format == formatEntry {
			return malformed("%s version %d unknown (this build reads versions %d and %d)",
				what, b[1], entryVersion1, entryVersion)
		}
		return malformed("%s version %d unknown (this build reads version %d)", what, b[1], version)
	}
	dec := json.NewDecoder(bytes.NewReader(b[2:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return malformed("%s: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("%s: trailing data after the JSON value", what)
	}
	return nil
}

// ---- Entry ----

func entryToWire(e Entry) (*wireEntry, error) {
	if e.Vendor == "" {
		return nil, malformed("entry without a vendor")
	}
	if e.Proposer < 0 {
		return nil, malformed("entry proposer %d is negative", e.Proposer)
	}
	w := &wireEntry{Proposer: e.Proposer, Vendor: encStr(e.Vendor), Gen: e.Gen}
	if len(e.Deltas) > 0 {
		w.Deltas = make([]wireDelta, len(e.Deltas))
	}
	for i := range e.Deltas {
		if err := deltaToWire(&e.Deltas[i], &w.Deltas[i]); err != nil {
			return nil, fmt.Errorf("delta %d (seq %d): %w", i, e.Deltas[i].Seq, err)
		}
	}
	return w, nil
}

func entryFromWire(w *wireEntry) (Entry, error) {
	var err error
	e := Entry{Proposer: w.Proposer, Gen: w.Gen}
	if e.Vendor, err = decStr(w.Vendor); err != nil {
		return Entry{}, err
	}
	if e.Vendor == "" {
		return Entry{}, malformed("entry without a vendor")
	}
	if e.Proposer < 0 {
		return Entry{}, malformed("entry proposer %d is negative", e.Proposer)
	}
	if len(w.Deltas) > 0 {
		e.Deltas = make([]pool.Delta, len(w.Deltas))
	}
	for i := range w.Deltas {
		if err := deltaFromWire(&w.Deltas[i], &e.Deltas[i]); err != nil {
			return Entry{}, fmt.Errorf("delta %d (seq %d): %w", i, w.Deltas[i].Seq, err)
		}
	}
	return e, nil
}

// checkEntry reports whether the content of e that Apply uses could be
// encoded (the proposer is not checked: Apply ignores it), without encoding it.
func checkEntry(e *Entry) error {
	if e.Vendor == "" {
		return malformed("entry without a vendor")
	}
	for i := range e.Deltas {
		d := &e.Deltas[i]
		err := func() error {
			if _, err := kindToWire(d.Kind); err != nil {
				return err
			}
			if _, err := reasonToWire(d.Reason); err != nil {
				return err
			}
			for _, t := range [...]time.Time{d.Time, d.Holder.Start, d.Holder.LastSeen, d.Holder.LingerUntil} {
				if _, _, err := wireTime(t); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			return fmt.Errorf("delta %d (seq %d): %w", i, d.Seq, err)
		}
	}
	return nil
}

// ---- Delta ----

// Kind and reason numbers of the format: fixed here, whatever pool's own
// constants are.
const (
	wireGrant    = 1
	wireRebind   = 2
	wireRelease  = 3
	wireReload   = 4
	wireLinger   = 5
	wireEnqueue  = 6
	wireNamedUse = 7
	wireRecycle  = 8
	wireDequeue  = 9

	wireNoReason      = 0
	wireCheckin       = 1
	wireSessionClosed = 2
	wireTimeout       = 3
	wireRemoved       = 4
	wireReread        = 5
	wireLingerEnd     = 6
	// 7 to 9 are other branches' (a named-user and queue release each).
	wireBorrowEnd = 10
	wireReturned  = 11
)

func kindToWire(k pool.DeltaKind) (int, error) {
	switch k {
	case pool.Grant:
		return wireGrant, nil
	case pool.Rebind:
		return wireRebind, nil
	case pool.Release:
		return wireRelease, nil
	case pool.Reload:
		return wireReload, nil
	case pool.Linger:
		return wireLinger, nil
	case pool.NamedUse:
		return wireNamedUse, nil
	case pool.Recycle:
		return wireRecycle, nil
	case pool.Enqueue:
		return wireEnqueue, nil
	case pool.Dequeue:
		return wireDequeue, nil
	}
	return 0, malformed("unknown delta kind %v", k)
}

func kindFromWire(k int) (pool.DeltaKind, error) {
	switch k {
	case wireGrant:
		return pool.Grant, nil
	case wireRebind:
		return pool.Rebind, nil
	case wireRelease:
		return pool.Release, nil
	case wireReload:
		return pool.Reload, nil
	case wireLinger:
		return pool.Linger, nil
	case wireNamedUse:
		return pool.NamedUse, nil
	case wireRecycle:
		return pool.Recycle, nil
	case wireEnqueue:
		return pool.Enqueue, nil
	case wireDequeue:
		return pool.Dequeue, nil
	}
	return 0, malformed("unknown delta kind %d", k)
}

func reasonToWire(r pool.ReleaseReason) (int, error) {
	switch r {
	case pool.NoReason:
		return wireNoReason, nil
	case pool.Checkin:
		return wireCheckin, nil
	case pool.SessionClosed:
		return wireSessionClosed, nil
	case pool.Timeout:
		return wireTimeout, nil
	case pool.Removed:
		return wireRemoved, nil
	case pool.Reread:
		return wireReread, nil
	case pool.LingerEnd:
		return wireLingerEnd, nil
	case pool.BorrowEnd:
		return wireBorrowEnd, nil
	case pool.Returned:
		return wireReturned, nil
	}
	return 0, malformed("unknown release reason %v", r)
}

func reasonFromWire(r int) (pool.ReleaseReason, error) {
	switch r {
	case wireNoReason:
		return pool.NoReason, nil
	case wireCheckin:
		return pool.Checkin, nil
	case wireSessionClosed:
		return pool.SessionClosed, nil
	case wireTimeout:
		return pool.Timeout, nil
	case wireRemoved:
		return pool.Removed, nil
	case wireReread:
		return pool.Reread, nil
	case wireLingerEnd:
		return pool.LingerEnd, nil
	case wireBorrowEnd:
		return pool.BorrowEnd, nil
	case wireReturned:
		return pool.Returned, nil
	}
	return 0, malformed("unknown release reason %d", r)
}

func deltaToWire(d *pool.Delta, w *wireDelta) error {
	var err error
	w.Seq, w.Code = d.Seq, d.Code
	if w.Kind, err = kindToWire(d.Kind); err != nil {
		return err
	}
	if w.Reason, err = reasonToWire(d.Reason); err != nil {
		return err
	}
	if w.Time, err = encTime(d.Time); err != nil {
		return err
	}
	if !holderIsZero(&d.Holder) {
		w.Holder = new(wireHolder)
		if err := holderToWire(&d.Holder, w.Holder); err != nil {
			return err
		}
	}
	w.Pools = poolsToWire(d.Pools)
	if len(d.Moves) > 0 {
		w.Moves = make([]wireMove, len(d.Moves))
		for i, m := range d.Moves {
			w.Moves[i] = wireMove{Handle: m.Handle, PoolKey: encStr(m.PoolKey), PoolVersion: encStr(m.PoolVersion)}
		}
	}
	return nil
}

func deltaFromWire(w *wireDelta, d *pool.Delta) error {
	var err error
	d.Seq, d.Code = w.Seq, w.Code
	if d.Kind, err = kindFromWire(w.Kind); err != nil {
		return err
	}
	if d.Reason, err = reasonFromWire(w.Reason); err != nil {
		return err
	}
	if d.Time, err = decTime(w.Time); err != nil {
		return err
	}
	if w.Holder != nil {
		if err := holderFromWire(w.Holder, &d.Holder); err != nil {
			return err
		}
	}
	if d.Pools, err = poolsFromWire(w.Pools, false); err != nil {
		return err
	}
	if len(w.Moves) > 0 {
		d.Moves = make([]pool.Move, len(w.Moves))
		for i, m := range w.Moves {
			mv := pool.Move{Handle: m.Handle}
			if mv.PoolKey, err = decStr(m.PoolKey); err != nil {
				return err
			}
			if mv.PoolVersion, err = decStr(m.PoolVersion); err != nil {
				return err
			}
			d.Moves[i] = mv
		}
	}
	return nil
}

// ---- Holder ----

func holderIsZero(h *pool.Holder) bool { return reflect.ValueOf(h).Elem().IsZero() }

func holderToWire(h *pool.Holder, w *wireHolder) error {
	var err error
	*w = wireHolder{
		Handle:      h.Handle,
		Feature:     encStr(h.Feature),
		PoolKey:     encStr(h.PoolKey),
		PoolVersion: encStr(h.PoolVersion),
		Version:     encStr(h.Version),
		Count:       h.Count,
		Session:     h.Session,
		User:        encStr(h.User),
		Host:        encStr(h.Host),
		Display:     encStr(h.Display),
		PID:         h.PID,
		VendorDef:   encStr(h.VendorDef),
		Secret:      encStr(h.Secret),
		IP:          encStr(h.IP),
		Project:     encStr(h.Project),
		Linger:      int64(h.Linger),
	}
	if len(h.HostIDs) > 0 {
		w.HostIDs = make([]string, len(h.HostIDs))
		for i, id := range h.HostIDs {
			w.HostIDs[i] = encStr(id)
		}
	}
	if w.Start, err = encTime(h.Start); err != nil {
		return fmt.Errorf("holder %d start: %w", h.Handle, err)
	}
	if w.LastSeen, err = encTime(h.LastSeen); err != nil {
		return fmt.Errorf("holder %d last seen: %w", h.Handle, err)
	}
	if w.LingerUntil, err = encTime(h.LingerUntil); err != nil {
		return fmt.Errorf("holder %d linger until: %w", h.Handle, err)
	}
	if w.BorrowUntil, err = encTime(h.BorrowUntil); err != nil {
		return fmt.Errorf("holder %d borrow until: %w", h.Handle, err)
	}
	return nil
}

func holderFromWire(w *wireHolder, h *pool.Holder) error {
	*h = pool.Holder{Handle: w.Handle, Count: w.Count, Session: w.Session, PID: w.PID, Linger: time.Duration(w.Linger)}
	for _, f := range [...]struct {
		dst *string
		src string
	}{
		{&h.Feature, w.Feature}, {&h.PoolKey, w.PoolKey}, {&h.PoolVersion, w.PoolVersion},
		{&h.Version, w.Version}, {&h.User, w.User}, {&h.Host, w.Host},
		{&h.Display, w.Display}, {&h.VendorDef, w.VendorDef}, {&h.Secret, w.Secret},
		{&h.IP, w.IP}, {&h.Project, w.Project},
	} {
		s, err := decStr(f.src)
		if err != nil {
			return fmt.Errorf("holder %d: %w", w.Handle, err)
		}
		*f.dst = s
	}
	if len(w.HostIDs) > 0 {
		h.HostIDs = make([]string, len(w.HostIDs))
		for i, id := range w.HostIDs {
			s, err := decStr(id)
			if err != nil {
				return fmt.Errorf("holder %d: %w", w.Handle, err)
			}
			h.HostIDs[i] = s
		}
	}
	var err error
	if h.Start, err = decTime(w.Start); err != nil {
		return fmt.Errorf("holder %d start: %w", w.Handle, err)
	}
	if h.LastSeen, err = decTime(w.LastSeen); err != nil {
		return fmt.Errorf("holder %d last seen: %w", w.Handle, err)
	}
	if h.LingerUntil, err = decTime(w.LingerUntil); err != nil {
		return fmt.Errorf("holder %d linger until: %w", w.Handle, err)
	}
	if h.BorrowUntil, err = decTime(w.BorrowUntil); err != nil {
		return fmt.Errorf("holder %d borrow until: %w", w.Handle, err)
	}
	return nil
}

// ---- licfile.Pool ----

func poolsToWire(ps []licfile.Pool) []wirePool {
	if len(ps) == 0 {
		return nil
	}
	out := make([]wirePool, len(ps))
	for i := range ps {
		p := &ps[i]
		w := &out[i]
		*w = wirePool{
			Key:          encStr(p.Key),
			Name:         encStr(p.Name),
			Vendor:       encStr(p.Vendor),
			Version:      encStr(p.Version),
			Expiry:       encDate(p.Expiry),
			ExpiryText:   encStr(p.ExpiryText),
			Start:        encDate(p.Start),
			Count:        p.Count,
			Uncounted:    p.Uncounted,
			HostID:       encStr(p.HostID),
			VendorString: encStr(p.VendorString),
			DupGroup:     encStr(p.DupGroup),
			Overdraft:    p.Overdraft,
			UserBased:    p.UserBased,
			HostBased:    p.HostBased,
			Borrow:       p.Borrow,
		}
		if len(p.Lines) > 0 {
			w.Lines = make([]wirePos, len(p.Lines))
			for j, l := range p.Lines {
				w.Lines[j] = wirePos{File: encStr(l.File), Line: l.Line}
			}
		}
	}
	return out
}

// poolsFromWire decodes pools; the result is nil for none unless nonNil.
func poolsFromWire(ws []wirePool, nonNil bool) ([]licfile.Pool, error) {
	if len(ws) == 0 && !nonNil {
		return nil, nil
	}
	out := make([]licfile.Pool, len(ws))
	for i := range ws {
		w := &ws[i]
		p := &out[i]
		*p = licfile.Pool{
			Count:     w.Count,
			Uncounted: w.Uncounted,
			Overdraft: w.Overdraft,
			UserBased: w.UserBased,
			HostBased: w.HostBased,
			Borrow:    w.Borrow,
		}
		for _, f := range [...]struct {
			dst *string
			src string
		}{
			{&p.Key, w.Key}, {&p.Name, w.Name}, {&p.Vendor, w.Vendor}, {&p.Version, w.Version},
			{&p.ExpiryText, w.ExpiryText}, {&p.HostID, w.HostID},
			{&p.VendorString, w.VendorString}, {&p.DupGroup, w.DupGroup},
		} {
			s, err := decStr(f.src)
			if err != nil {
				return nil, fmt.Errorf("pool %d: %w", i, err)
			}
			*f.dst = s
		}
		var err error
		if p.Expiry, err = decDate(w.Expiry); err != nil {
			return nil, fmt.Errorf("pool %d expiry: %w", i, err)
		}
		if p.Start, err = decDate(w.Start); err != nil {
			return nil, fmt.Errorf("pool %d start: %w", i, err)
		}
		if len(w.Lines) > 0 {
			p.Lines = make([]licfile.Pos, len(w.Lines))
			for j, l := range w.Lines {
				file, err := decStr(l.File)
				if err != nil {
					return nil, fmt.Errorf("pool %d line %d: %w", i, j, err)
				}
				p.Lines[j] = licfile.Pos{File: file, Line: l.Line}
			}
		}
	}
	return out, nil
}

// ---- pool.Snapshot ----

func snapshotToWire(s pool.Snapshot) (*wireSnapshot, error) {
	w := &wireSnapshot{Seq: s.Seq, NextHandle: s.NextHandle, Pools: poolsToWire(s.Pools)}
	if len(s.Holders) > 0 {
		w.Holders = make([]wireHolder, len(s.Holders))
		for i := range s.Holders {
			if err := holderToWire(&s.Holders[i], &w.Holders[i]); err != nil {
				return nil, err
			}
		}
	}
	if len(s.Named) > 0 {
		w.Named = make([]wireNamed, len(s.Named))
		for i, n := range s.Named {
			lu, err := encTime(n.LastUsed)
			if err != nil {
				return nil, fmt.Errorf("named user %q last used: %w", n.User, err)
			}
			w.Named[i] = wireNamed{PoolKey: encStr(n.PoolKey), User: encStr(n.User), LastUsed: lu}
		}
	}
	if len(s.Queued) > 0 {
		w.Queued = make([]wireHolder, len(s.Queued))
		for i := range s.Queued {
			if err := holderToWire(&s.Queued[i], &w.Queued[i]); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

func snapshotFromWire(w *wireSnapshot) (pool.Snapshot, error) {
	s := pool.Snapshot{Seq: w.Seq, NextHandle: w.NextHandle, Holders: make([]pool.Holder, len(w.Holders))}
	var err error
	if s.Pools, err = poolsFromWire(w.Pools, true); err != nil {
		return pool.Snapshot{}, err
	}
	for i := range w.Holders {
		if err := holderFromWire(&w.Holders[i], &s.Holders[i]); err != nil {
			return pool.Snapshot{}, err
		}
	}
	if len(w.Named) > 0 {
		s.Named = make([]pool.NamedUser, len(w.Named))
		for i, n := range w.Named {
			nu := &s.Named[i]
			if nu.PoolKey, err = decStr(n.PoolKey); err != nil {
				return pool.Snapshot{}, err
			}
			if nu.User, err = decStr(n.User); err != nil {
				return pool.Snapshot{}, err
			}
			if nu.LastUsed, err = decTime(n.LastUsed); err != nil {
				return pool.Snapshot{}, err
			}
		}
	}
	if len(w.Queued) > 0 {
		s.Queued = make([]pool.Holder, len(w.Queued))
		for i := range w.Queued {
			if err := holderFromWire(&w.Queued[i], &s.Queued[i]); err != nil {
				return pool.Snapshot{}, err
			}
		}
	}
	return s, nil
}

// ---- scalars ----

// needsRaw reports whether s is written as NUL + base64: JSON strings hold
// only valid UTF-8, and a leading NUL marks the raw form.
func needsRaw(s string) bool {
	return s != "" && (s[0] == 0 || !utf8.ValidString(s))
}

func encStr(s string) string {
	if !needsRaw(s) {
		return s
	}
	return "\x00" + base64.StdEncoding.EncodeToString([]byte(s))
}

func decStr(s string) (string, error) {
	if s == "" || s[0] != 0 {
		return s, nil
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s[1:])
	if err != nil {
		return "", malformed("raw string %q: %v", s, err)
	}
	r := string(b)
	if !needsRaw(r) {
		return "", malformed("raw string %q holds plain text", s)
	}
	return r, nil
}

// encTime writes t as RFC 3339 with nanoseconds in its own offset, or in
// UTC when that offset is not whole minutes (RFC 3339 cannot say it). The
// zero time is "".
func encTime(t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	t, _, err := wireTime(t)
	if err != nil {
		return "", err
	}
	return t.Format(time.RFC3339Nano), nil
}

// wireTime is a non-zero t as every encoding writes it, and its UTC offset
// in seconds: in its own offset when that is whole minutes strictly within
// ±24 h, in UTC otherwise. It fails for a year outside 0-9999 there. The
// zero time is returned as is, without error.
func wireTime(t time.Time) (time.Time, int, error) {
	if t.IsZero() {
		return t, 0, nil
	}
	_, off := t.Zone()
	if !offsetOK(off) {
		t, off = t.UTC(), 0
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, 0, malformed("time %v: year outside 0-9999", t)
	}
	return t, off, nil
}

// offsetOK reports whether a UTC offset (seconds) is written as is.
func offsetOK(off int) bool { return off%60 == 0 && off > -24*3600 && off < 24*3600 }

// decTime reads encTime's text. Offsets become unnamed fixed zones (UTC for
// zero), the same on every member whatever its local time zone.
func decTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.RFC3339Nano, s, time.UTC)
	if err != nil {
		return time.Time{}, malformed("time %q: %v", s, err)
	}
	if t.IsZero() {
		return time.Time{}, malformed("time %q: the zero time is written as nothing", s)
	}
	return t, nil
}

func encDate(d licfile.Date) []int {
	if d.IsZero() {
		return nil
	}
	return []int{d.Year, int(d.Month), d.Day}
}

func decDate(v []int) (licfile.Date, error) {
	if v == nil {
		return licfile.Date{}, nil
	}
	if len(v) != 3 {
		return licfile.Date{}, malformed("date %v: want [year, month, day]", v)
	}
	return licfile.Date{Year: v[0], Month: time.Month(v[1]), Day: v[2]}, nil
}

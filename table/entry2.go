package table

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
)

// Entry format 1, version 2: the binary encoding EncodeEntry writes. The
// field order is the package documentation's table; this file must follow it.

// Bits of a delta's "has" field and of a pool's flags.
const (
	hasPools = 1 << iota
	hasMoves
	hasCode
	hasAll = hasPools | hasMoves | hasCode
)

const (
	poolUncounted = 1 << iota
	poolUserBased
	poolHostBased
	poolBorrow // a varint of BORROW hours follows the flags
	poolAll    = poolUncounted | poolUserBased | poolHostBased | poolBorrow
)

// The fewest bytes each repeated item takes: a count is refused unless the
// bytes left could hold that many, so what a decoder allocates stays within
// a multiple of its input's size.
const (
	minDelta = 6  // seq, k, r, t (zero), h (empty), has
	minPool  = 18 // 8 strings, 2 dates of 3 ints, n, flags, od, lines count
	minPos   = 2  // file, line
	minMove  = 3  // hnd, pk, pv
	minStr   = 1  // the length
)

// Time bounds: a time's wall clock in its offset must be in years 0-9999.
var (
	minLocalSec = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxLocalSec = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - 1
)

// ---- encoder ----

func encodeEntry2(e *Entry) ([]byte, error) {
	if e.Vendor == "" {
		return nil, malformed("entry without a vendor")
	}
	if e.Proposer < 0 {
		return nil, malformed("entry proposer %d is negative", e.Proposer)
	}
	size := 2 + 3*binary.MaxVarintLen64 + len(e.Vendor)
	for i := range e.Deltas {
		size += deltaSize(&e.Deltas[i])
	}
	b := make([]byte, 0, size)
	b = append(b, formatEntry, entryVersion)
	b = binary.AppendUvarint(b, uint64(e.Proposer))
	b = appendStr(b, e.Vendor)
	b = binary.AppendUvarint(b, e.Gen)
	b = binary.AppendUvarint(b, uint64(len(e.Deltas)))
	for i := range e.Deltas {
		var err error
		if b, err = appendDelta(b, &e.Deltas[i]); err != nil {
			return nil, fmt.Errorf("delta %d (seq %d): %w", i, e.Deltas[i].Seq, err)
		}
	}
	return b, nil
}

// deltaSize is about what appendDelta writes: enough for a Grant, Rebind or
// Release, so that an entry of them is written without growing its buffer.
func deltaSize(d *pool.Delta) int {
	h := &d.Holder
	n := 96 + len(h.Feature) + len(h.PoolKey) + len(h.PoolVersion) + len(h.Version) +
		len(h.User) + len(h.Host) + len(h.Display) + len(h.VendorDef) + len(h.Secret) +
		len(h.IP) + len(h.Project)
	for _, id := range h.HostIDs {
		n += 2 + len(id)
	}
	return n + 64*len(d.Pools) + 16*len(d.Moves)
}

func appendDelta(b []byte, d *pool.Delta) ([]byte, error) {
	k, err := kindToWire(d.Kind)
	if err != nil {
		return nil, err
	}
	r, err := reasonToWire(d.Reason)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, d.Seq)
	b = binary.AppendUvarint(b, uint64(k))
	b = binary.AppendUvarint(b, uint64(r))
	if b, err = appendTime(b, d.Time); err != nil {
		return nil, err
	}
	if d.Holder.Handle == 0 && holderIsZero(&d.Holder) {
		b = append(b, 0)
	} else {
		// The record, then its length moved in front of it.
		at := len(b)
		if b, err = appendHolder(b, &d.Holder); err != nil {
			return nil, err
		}
		var n [binary.MaxVarintLen64]byte
		b = slices.Insert(b, at, binary.AppendUvarint(n[:0], uint64(len(b)-at))...)
	}
	has := 0
	if len(d.Pools) > 0 {
		has |= hasPools
	}
	if len(d.Moves) > 0 {
		has |= hasMoves
	}
	if d.Code != 0 {
		has |= hasCode
	}
	b = binary.AppendUvarint(b, uint64(has))
	if len(d.Pools) > 0 {
		b = binary.AppendUvarint(b, uint64(len(d.Pools)))
		for i := range d.Pools {
			b = appendPool(b, &d.Pools[i])
		}
	}
	if len(d.Moves) > 0 {
		b = binary.AppendUvarint(b, uint64(len(d.Moves)))
		for _, m := range d.Moves {
			b = binary.AppendUvarint(b, m.Handle)
			b = appendStr(b, m.PoolKey)
			b = appendStr(b, m.PoolVersion)
		}
	}
	if d.Code != 0 {
		b = binary.AppendVarint(b, int64(d.Code))
	}
	return b, nil
}

func appendHolder(b []byte, h *pool.Holder) ([]byte, error) {
	b = binary.AppendUvarint(b, h.Handle)
	b = appendStr(b, h.Feature)
	b = appendStr(b, h.PoolKey)
	b = appendStr(b, h.PoolVersion)
	b = appendStr(b, h.Version)
	b = binary.AppendVarint(b, int64(h.Count))
	b = binary.AppendUvarint(b, h.Session)
	b = appendStr(b, h.User)
	b = appendStr(b, h.Host)
	b = appendStr(b, h.Display)
	b = binary.AppendVarint(b, int64(h.PID))
	b = binary.AppendUvarint(b, uint64(len(h.HostIDs)))
	for _, id := range h.HostIDs {
		b = appendStr(b, id)
	}
	b = appendStr(b, h.VendorDef)
	var err error
	if b, err = appendTime(b, h.Start); err != nil {
		return nil, fmt.Errorf("holder %d start: %w", h.Handle, err)
	}
	if b, err = appendTime(b, h.LastSeen); err != nil {
		return nil, fmt.Errorf("holder %d last seen: %w", h.Handle, err)
	}
	// Optional tail: a holder without these encodes as before.
	bu := !h.BorrowUntil.IsZero()
	ext := h.IP != "" || h.Project != "" || !h.LingerUntil.IsZero() || h.Linger != 0 || bu
	if h.Secret != "" || ext {
		b = appendStr(b, h.Secret)
	}
	if ext {
		b = appendStr(b, h.IP)
		b = appendStr(b, h.Project)
		if b, err = appendTime(b, h.LingerUntil); err != nil {
			return nil, fmt.Errorf("holder %d linger until: %w", h.Handle, err)
		}
		b = binary.AppendVarint(b, int64(h.Linger))
	}
	if bu {
		if b, err = appendTime(b, h.BorrowUntil); err != nil {
			return nil, fmt.Errorf("holder %d borrow until: %w", h.Handle, err)
		}
	}
	return b, nil
}

func appendPool(b []byte, p *licfile.Pool) []byte {
	b = appendStr(b, p.Key)
	b = appendStr(b, p.Name)
	b = appendStr(b, p.Vendor)
	b = appendStr(b, p.Version)
	b = appendDate(b, p.Expiry)
	b = appendStr(b, p.ExpiryText)
	b = appendDate(b, p.Start)
	b = binary.AppendVarint(b, int64(p.Count))
	flags := 0
	if p.Uncounted {
		flags |= poolUncounted
	}
	if p.UserBased {
		flags |= poolUserBased
	}
	if p.HostBased {
		flags |= poolHostBased
	}
	if p.Borrow != 0 {
		flags |= poolBorrow
	}
	b = binary.AppendUvarint(b, uint64(flags))
	if p.Borrow != 0 {
		b = binary.AppendVarint(b, int64(p.Borrow))
	}
	b = appendStr(b, p.HostID)
	b = appendStr(b, p.VendorString)
	b = appendStr(b, p.DupGroup)
	b = binary.AppendVarint(b, int64(p.Overdraft))
	b = binary.AppendUvarint(b, uint64(len(p.Lines)))
	for _, l := range p.Lines {
		b = appendStr(b, l.File)
		b = binary.AppendVarint(b, int64(l.Line))
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendDate(b []byte, d licfile.Date) []byte {
	b = binary.AppendVarint(b, int64(d.Year))
	b = binary.AppendVarint(b, int64(d.Month))
	return binary.AppendVarint(b, int64(d.Day))
}

// appendTime writes 0 for the zero time, else 1, the Unix seconds, the
// nanoseconds and the UTC offset in seconds of t as wireTime gives it.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return append(b, 0), nil
	}
	t, off, err := wireTime(t)
	if err != nil {
		return nil, err
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	return binary.AppendVarint(b, int64(off)), nil
}

// ---- decoder ----

// reader2 reads a version 2 entry. Its first error sticks: every later read
// returns a zero value, and the caller checks err once in a while.
type reader2 struct {
	b   []byte // the blob after its header, or one holder record
	i   int    // read position in b
	err error

	// Reading a holder record: s is b as a string, which its strings are
	// cut from (one allocation per holder), and at is where b starts in the
	// blob after the header (for error messages).
	s  string
	at int
}

func decodeEntry2(b []byte) (Entry, error) {
	r := reader2{b: b}
	var e Entry
	prop := r.uvarint("prop")
	if prop > math.MaxInt {
		r.fail("prop %d out of range", prop)
	}
	e.Proposer = int(prop)
	e.Vendor = r.str("vnd")
	e.Gen = r.uvarint("gen")
	n := r.count("d", minDelta)
	if r.err == nil && e.Vendor == "" {
		return Entry{}, malformed("entry without a vendor")
	}
	if r.err != nil {
		return Entry{}, r.err
	}
	if n > 0 {
		e.Deltas = make([]pool.Delta, n)
	}
	for i := range e.Deltas {
		r.delta(&e.Deltas[i])
		if r.err != nil {
			return Entry{}, fmt.Errorf("delta %d (seq %d): %w", i, e.Deltas[i].Seq, r.err)
		}
	}
	if r.i != len(r.b) {
		return Entry{}, malformed("entry: %d bytes of trailing data after the entry", len(r.b)-r.i)
	}
	return e, nil
}

func (r *reader2) fail(format string, args ...any) {
	if r.err == nil {
		r.err = malformed("entry: byte %d: %s", r.at+r.i+2, fmt.Sprintf(format, args...))
	}
}

func (r *reader2) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	if r.i < len(r.b) && r.b[r.i] < 0x80 {
		v := r.b[r.i]
		r.i++
		return uint64(v)
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		if n == 0 {
			r.fail("%s: truncated", what)
		} else {
			r.fail("%s: varint overflows 64 bits", what)
		}
		return 0
	}
	r.i += n
	return v
}

// varint reads a zig-zag varint: an uvarint whose low bit is the sign
// (what binary.Varint reads, with the same range).
func (r *reader2) varint(what string) int64 {
	u := r.uvarint(what)
	return int64(u>>1) ^ -int64(u&1)
}

// int reads a zig-zag varint that fits an int.
func (r *reader2) int(what string) int {
	v := r.varint(what)
	if int64(int(v)) != v {
		r.fail("%s: %d out of range", what, v)
		return 0
	}
	return int(v)
}

// count reads the length of a list whose items take at least size bytes
// each, and refuses it unless the bytes left could hold them.
func (r *reader2) count(what string, size int) int {
	n := r.uvarint(what)
	if r.err == nil && n > uint64((len(r.b)-r.i)/size) {
		r.fail("%s: %d items, more than the %d bytes left can hold", what, n, len(r.b)-r.i)
		return 0
	}
	return int(n)
}

func (r *reader2) str(what string) string {
	n := r.uvarint(what)
	if r.err != nil || n == 0 {
		return ""
	}
	if n > uint64(len(r.b)-r.i) {
		r.fail("%s: length %d, more than the %d bytes left", what, n, len(r.b)-r.i)
		return ""
	}
	var s string
	if r.s != "" {
		s = r.s[r.i : r.i+int(n)]
	} else {
		s = string(r.b[r.i : r.i+int(n)])
	}
	r.i += int(n)
	return s
}

func (r *reader2) date(what string) licfile.Date {
	return licfile.Date{Year: r.int(what), Month: time.Month(r.int(what)), Day: r.int(what)}
}

func (r *reader2) time(what string) time.Time {
	switch flag := r.uvarint(what); {
	case r.err != nil || flag == 0:
		return time.Time{}
	case flag != 1:
		r.fail("%s: time flag %d, want 0 or 1", what, flag)
		return time.Time{}
	}
	sec, nsec, off := r.varint(what), r.uvarint(what), r.int(what)
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		r.fail("%s: %d nanoseconds", what, nsec)
		return time.Time{}
	}
	if !offsetOK(off) {
		r.fail("%s: UTC offset %d s is not whole minutes within ±24 h", what, off)
		return time.Time{}
	}
	// |off| < 86400, so the sum cannot overflow once sec is in range.
	if sec < minLocalSec-86400 || sec > maxLocalSec+86400 ||
		sec+int64(off) < minLocalSec || sec+int64(off) > maxLocalSec {
		r.fail("%s: %d s from 1970 is outside years 0-9999 at offset %d s", what, sec, off)
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).In(fixedZone(off))
	if t.IsZero() {
		r.fail("%s: the zero time is written as flag 0", what)
		return time.Time{}
	}
	return t
}

func (r *reader2) delta(d *pool.Delta) {
	d.Seq = r.uvarint("seq")
	k := r.uvarint("k")
	reason := r.uvarint("r")
	d.Time = r.time("t")
	r.holder(&d.Holder)
	has := r.uvarint("has")
	if r.err != nil {
		return
	}
	var err error
	if d.Kind, err = kindFromWire(int(min(k, math.MaxInt32))); err != nil {
		r.err = err
		return
	}
	if d.Reason, err = reasonFromWire(int(min(reason, math.MaxInt32))); err != nil {
		r.err = err
		return
	}
	if has&^hasAll != 0 {
		r.fail("has: unknown bits %#x", has&^hasAll)
		return
	}
	if has&hasPools != 0 {
		n := r.count("pools", minPool)
		if r.err == nil && n == 0 {
			r.fail("pools: none, but marked present")
		}
		if r.err != nil {
			return
		}
		d.Pools = make([]licfile.Pool, n)
		for i := range d.Pools {
			r.pool(&d.Pools[i])
		}
	}
	if has&hasMoves != 0 {
		n := r.count("moves", minMove)
		if r.err == nil && n == 0 {
			r.fail("moves: none, but marked present")
		}
		if r.err != nil {
			return
		}
		d.Moves = make([]pool.Move, n)
		for i := range d.Moves {
			m := &d.Moves[i]
			m.Handle = r.uvarint("move hnd")
			m.PoolKey = r.str("move pk")
			m.PoolVersion = r.str("move pv")
		}
	}
	if has&hasCode != 0 {
		d.Code = r.int("code")
		if r.err == nil && d.Code == 0 {
			r.fail("code: 0, but marked present")
		}
	}
}

// holder reads a holder record: its length, then its fields. Length 0 is the
// zero Holder.
func (r *reader2) holder(h *pool.Holder) {
	n := r.uvarint("h")
	if r.err != nil || n == 0 {
		return
	}
	if n > uint64(len(r.b)-r.i) {
		r.fail("h: length %d, more than the %d bytes left", n, len(r.b)-r.i)
		return
	}
	end := r.i + int(n)
	hr := reader2{b: r.b[r.i:end], s: string(r.b[r.i:end]), at: r.at + r.i}
	hr.holderFields(h)
	if hr.err == nil && hr.i != len(hr.b) {
		hr.fail("h: %d bytes left at the end of the holder record", len(hr.b)-hr.i)
	}
	if hr.err != nil {
		r.err = hr.err
		return
	}
	r.i = end
}

func (r *reader2) holderFields(h *pool.Holder) {
	h.Handle = r.uvarint("hnd")
	h.Feature = r.str("feat")
	h.PoolKey = r.str("pk")
	h.PoolVersion = r.str("pv")
	h.Version = r.str("ver")
	h.Count = r.int("n")
	h.Session = r.uvarint("sess")
	h.User = r.str("user")
	h.Host = r.str("host")
	h.Display = r.str("disp")
	h.PID = r.int("pid")
	if n := r.count("ids", minStr); n > 0 {
		h.HostIDs = make([]string, n)
		for i := range h.HostIDs {
			h.HostIDs[i] = r.str("ids")
		}
	}
	h.VendorDef = r.str("vdef")
	h.Start = r.time("start")
	h.LastSeen = r.time("seen")
	if r.err != nil || r.i == len(r.b) {
		return
	}
	h.Secret = r.str("sec")
	if r.err != nil || r.i == len(r.b) {
		if r.err == nil && h.Secret == "" {
			r.fail("sec: empty, but present (an empty secret is left out)")
		}
		return
	}
	h.IP = r.str("ip")
	h.Project = r.str("proj")
	h.LingerUntil = r.time("lu")
	h.Linger = time.Duration(r.varint("lng"))
	if r.err == nil && r.i < len(r.b) {
		if h.BorrowUntil = r.time("bu"); r.err == nil && h.BorrowUntil.IsZero() {
			r.fail("bu: zero, but present (a zero borrow end is left out)")
		}
		return
	}
	if r.err == nil && h.IP == "" && h.Project == "" && h.LingerUntil.IsZero() && h.Linger == 0 {
		r.fail("ip..lng: all empty, but present (an empty tail is left out)")
	}
}

func (r *reader2) pool(p *licfile.Pool) {
	p.Key = r.str("key")
	p.Name = r.str("name")
	p.Vendor = r.str("pool vnd")
	p.Version = r.str("pool ver")
	p.Expiry = r.date("exp")
	p.ExpiryText = r.str("expt")
	p.Start = r.date("pool start")
	p.Count = r.int("pool n")
	flags := r.uvarint("pool flags")
	if flags&^poolAll != 0 {
		r.fail("pool flags: unknown bits %#x", flags&^poolAll)
	}
	p.Uncounted = flags&poolUncounted != 0
	p.UserBased = flags&poolUserBased != 0
	p.HostBased = flags&poolHostBased != 0
	if flags&poolBorrow != 0 {
		if p.Borrow = r.int("bor"); r.err == nil && p.Borrow == 0 {
			r.fail("bor: zero, but flagged (a zero BORROW is left out)")
		}
	}
	p.HostID = r.str("hid")
	p.VendorString = r.str("vstr")
	p.DupGroup = r.str("dup")
	p.Overdraft = r.int("od")
	if n := r.count("lines", minPos); n > 0 {
		p.Lines = make([]licfile.Pos, n)
		for i := range p.Lines {
			p.Lines[i] = licfile.Pos{File: r.str("line file"), Line: r.int("line")}
		}
	}
}

// fixedZones holds the unnamed zone of each whole-minute offset within
// ±24 h, made on first use: decoding does not allocate one per time.
var fixedZones [2*24*60 - 1]atomic.Pointer[time.Location]

// fixedZone is the zone a decoded time gets, as in version 1: UTC for
// offset 0, else an unnamed fixed zone. off must satisfy offsetOK.
func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	z := &fixedZones[off/60+24*60-1]
	if l := z.Load(); l != nil {
		return l
	}
	l := time.FixedZone("", off)
	z.Store(l)
	return l
}

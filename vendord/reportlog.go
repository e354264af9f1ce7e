package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// The report log (REPORTLOG [+]path in the options file; docs/reportlog.md):
// one JSON object per line and event, for usage statistics. FlexLM's own
// report log is an encrypted binary format read only by its tools; ours is
// plain JSON lines that any tool reads. Lines are buffered and written at
// least every reportFlushEvery, and on switch, rotation and shutdown: a
// crash loses at most that much.
//
// Events: checkout, checkin (reason: checkin, exited, linger), timeout,
// remove, reread (freed by an lmreread), denied (with code), queued,
// dequeued (with the code why, when the server dropped it), and
// borrowing's events. Fields: time (RFC 3339
// with milliseconds, UTC), event, feature, user, host, display, count,
// handle, code (denied), reason.

// reportFlushEvery bounds how long an event waits in the buffer.
const reportFlushEvery = time.Second

// reportLog is the open report log, or none.
type reportLog struct {
	mu   sync.Mutex
	path string // "" when there is none
	f    *os.File
	w    *bufio.Writer
	buf  []byte // one line being built
}

// reportEvent is one line of the report log.
type reportEvent struct {
	Time    time.Time
	Event   string
	Feature string
	User    string
	Host    string
	Display string
	Count   int
	Handle  uint64
	Code    int    // denied: the FlexLM code
	Reason  string // checkin: why it was freed
}

// open switches to path (appending when appendMode, else truncating);
// "" closes the log.
func (r *reportLog) open(path string, appendMode bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if path == r.path && r.f != nil {
		return nil
	}
	r.closeLocked()
	if path == "" {
		return nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if !appendMode {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		return err
	}
	r.path, r.f, r.w = path, f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

func (r *reportLog) closeLocked() {
	if r.f == nil {
		return
	}
	_ = r.w.Flush()
	_ = r.f.Close()
	r.path, r.f, r.w = "", nil, nil
}

func (r *reportLog) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked()
}

// flush writes what is buffered.
func (r *reportLog) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil {
		_ = r.w.Flush()
	}
}

// rotate renames the log to renamed and starts a new one under its name
// (lmnewlog). renamed must not exist.
func (r *reportLog) rotate(renamed string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return errors.New("no report log is open (REPORTLOG in the options file)")
	}
	path := r.path
	if _, err := os.Lstat(renamed); err == nil {
		return fmt.Errorf("%s exists already: give a new name", renamed)
	}
	_ = r.w.Flush()
	if err := os.Rename(path, renamed); err != nil {
		return err
	}
	r.closeLocked()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	r.path, r.f, r.w = path, f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// switchTo continues the log in a new file (lmswitchr), which must not
// exist yet: two logs mixed in one file would be read as one.
func (r *reportLog) switchTo(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists already: switch to a new file", path)
		}
		return err
	}
	r.closeLocked()
	r.path, r.f, r.w = path, f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// current is the path of the open log ("" for none).
func (r *reportLog) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.path
}

// write appends events; nothing when no log is open.
func (r *reportLog) write(events ...reportEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	for _, e := range events {
		r.buf = appendReportEvent(r.buf[:0], e)
		_, _ = r.w.Write(r.buf)
	}
}

// appendReportEvent appends e as one JSON line, without reflection (the
// log is written on the checkout path).
func appendReportEvent(b []byte, e reportEvent) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","event":`...)
	b = strconv.AppendQuote(b, e.Event)
	b = appendField(b, "feature", e.Feature)
	b = appendField(b, "user", e.User)
	b = appendField(b, "host", e.Host)
	b = appendField(b, "display", e.Display)
	if e.Count > 0 {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	}
	if e.Handle > 0 {
		b = append(b, `,"handle":`...)
		b = strconv.AppendUint(b, e.Handle, 10)
	}
	if e.Code != 0 {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(e.Code), 10)
	}
	if e.Reason != "" {
		b = appendField(b, "reason", e.Reason)
	}
	return append(b, "}\n"...)
}

// appendField appends ,"key":"value" with value escaped as JSON.
func appendField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	q, _ := json.Marshal(value) // strconv.Quote's escapes are not all JSON
	return append(b, q...)
}

// reportEventsOf turns pool changes into report log events.
func reportEventsOf(deltas []pool.Delta) []reportEvent {
	var out []reportEvent
	for _, dl := range deltas {
		h := dl.Holder
		e := reportEvent{Time: dl.Time, Feature: h.Feature, User: h.User, Host: h.Host, Display: h.Display,
			Count: max(h.Count, 1), Handle: h.Handle}
		switch dl.Kind {
		case pool.Grant:
			e.Event = "checkout"
			if !h.BorrowUntil.IsZero() {
				e.Event, e.Reason = "borrow", "until "+h.BorrowUntil.UTC().Format(time.RFC3339)
			}
		case pool.Enqueue:
			e.Event = "queued"
		case pool.Dequeue:
			e.Event, e.Code = "dequeued", dl.Code
		case pool.Release:
			switch dl.Reason {
			case pool.Checkin:
				e.Event, e.Reason = "checkin", "checkin"
			case pool.SessionClosed:
				e.Event, e.Reason = "checkin", "exited"
			case pool.LingerEnd:
				e.Event, e.Reason = "checkin", "linger"
			case pool.Timeout:
				e.Event = "timeout"
			case pool.Removed:
				e.Event = "remove"
			case pool.Reread:
				e.Event = "reread"
			case pool.Returned:
				e.Event, e.Reason = "return", "returned"
			case pool.BorrowEnd:
				e.Event, e.Reason = "return", "borrow ended"
			default:
				e.Event, e.Reason = "checkin", dl.Reason.String()
			}
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

// openReportLog follows the options file's REPORTLOG: a relative path is
// taken from the options file's directory.
func (d *daemon) openReportLog() {
	site := d.siteOptions.Load()
	path, appendMode, ok := site.ReportLog()
	if !ok {
		if old := d.reports.current(); old != "" {
			d.reports.close()
			d.log.Infof("Report log %s closed (no REPORTLOG in the options file)", old)
		}
		return
	}
	if !filepath.IsAbs(path) && d.siteOptionsPath != "" {
		path = filepath.Join(filepath.Dir(d.siteOptionsPath), path)
	}
	if path == d.reports.current() {
		return
	}
	if err := d.reports.open(path, appendMode); err != nil {
		d.log.Errorf("Cannot open report log %q: %v", path, err)
		return
	}
	d.log.Infof("Report log: %s", path)
}

// flushReports writes the buffered report log lines every
// reportFlushEvery until ctx ends, then closes the log.
func (d *daemon) flushReports(ctx context.Context) {
	every := d.opts.ReportFlushEvery
	if every <= 0 {
		every = reportFlushEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.reports.close()
			return
		case <-t.C:
			d.reports.flush()
		}
	}
}

// switchReport answers SWITCHR (lmswitchr): the report log goes on in a
// new file, until the next restart or reread (when REPORTLOG applies
// again), as FlexLM's does.
func (s *session) switchReport(req wire.Message) wire.Message {
	if err := s.authorise("lmswitchr", false); err != nil {
		return err.Message()
	}
	path := req.Get("path")
	if !filepath.IsAbs(path) {
		return wire.NewError(wire.CodeBadComm, 30).WithDetail("lmswitchr needs an absolute path on the server").Message()
	}
	if err := s.d.reports.switchTo(path); err != nil {
		return wire.NewError(wire.CodeCantWrite, 30).WithDetail(err.Error()).Message()
	}
	s.d.log.Infof("Report log switched to %s", path)
	return wire.OK("path", path)
}

// rotateReport answers NEWLOG (lmnewlog): the report log's content is
// renamed, and a new log begun under its name.
func (s *session) rotateReport(req wire.Message) wire.Message {
	if err := s.authorise("lmnewlog", false); err != nil {
		return err.Message()
	}
	renamed := req.Get("renamed")
	if renamed == "" || strings.ContainsRune(renamed, 0) {
		return wire.NewError(wire.CodeBadComm, 31).WithDetail("lmnewlog needs the new name of the old report log").Message()
	}
	current := s.d.reports.current()
	if !filepath.IsAbs(renamed) && current != "" {
		renamed = filepath.Join(filepath.Dir(current), renamed)
	}
	if err := s.d.reports.rotate(renamed); err != nil {
		return wire.NewError(wire.CodeCantWrite, 31).WithDetail(err.Error()).Message()
	}
	s.d.log.Infof("Report log %s renamed to %s; a new one started", current, renamed)
	return wire.OK("renamed", renamed)
}

// usageCounts are the checkouts granted and the denials by feature and
// FlexLM code since this daemon started, for lmgrd's /metrics and usage
// statistics (STATUS checkouts=, denials=FEATURE:CODE:N,...).
type usageCounts struct {
	mu        sync.Mutex
	checkouts uint64
	denials   map[denialKey]uint64
}

type denialKey struct {
	feature string
	code    int
}

func (u *usageCounts) granted() {
	u.mu.Lock()
	u.checkouts++
	u.mu.Unlock()
}

func (u *usageCounts) denied(feature string, code int) {
	u.mu.Lock()
	if u.denials == nil {
		u.denials = map[denialKey]uint64{}
	}
	u.denials[denialKey{feature, code}]++
	u.mu.Unlock()
}

// fields are STATUS's checkouts= and denials= values. A feature name
// holds no ':' or ',' (licfile: names print as one bare field of letters,
// digits, '_' and '-'), so the list reads back unambiguously.
func (u *usageCounts) fields() (checkouts, denials string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	keys := make([]denialKey, 0, len(u.denials))
	for k := range u.denials {
		if !strings.ContainsAny(k.feature, ":,") {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b denialKey) int {
		if a.feature != b.feature {
			return strings.Compare(a.feature, b.feature)
		}
		return a.code - b.code
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.feature + ":" + strconv.Itoa(k.code) + ":" + strconv.FormatUint(u.denials[k], 10)
	}
	return strconv.FormatUint(u.checkouts, 10), strings.Join(parts, ",")
}

package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Handler answers the requests of one connection. Serve calls it from one
// goroutine, one request at a time, so a Handler made per connection may keep
// that connection's state (its user, the licenses it holds) without locking.
//
// Handle returns the reply, the records that follow it (Serve sets
// records=len(records) on the reply, see [Conn.SendReply]) and whether to
// close the connection once the reply is written. A panic in Handle is
// recovered and logged; the peer gets an ERR with [MinorInternal] and the
// connection is closed.
type Handler interface {
	Handle(req Message) (resp Message, records []Message, closeConn bool)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(req Message) (resp Message, records []Message, closeConn bool)

// Handle calls f(req).
func (f HandlerFunc) Handle(req Message) (Message, []Message, bool) { return f(req) }

// DefaultMaxBadLines is the default for ServeOptions.MaxBadLines.
const DefaultMaxBadLines = 10

// ServeOptions tune [Serve]. The zero value means: lines up to [MaxLine], no
// timeouts, close after [DefaultMaxBadLines] bad lines in a row, no logging.
type ServeOptions struct {
	// MaxLine is the longest request line accepted; 0 means MaxLine.
	MaxLine int
	// IdleTimeout is how long to wait for the first byte of the next
	// request; the connection is closed when it passes. 0 means no limit.
	// Clients heartbeat (HEARTBEAT) more often than this.
	IdleTimeout time.Duration
	// ReadTimeout is how long the rest of a line may take once its first
	// byte has arrived. 0 means IdleTimeout. Set it to a few seconds to cut
	// slow senders (a line trickled in a byte at a time) while an idle
	// client that heartbeats between complete lines stays.
	ReadTimeout time.Duration
	// GreetingTimeout, when First is nil, is how long the first request
	// line (the greeting) may take to arrive in full, counted from the
	// start of Serve; past it the connection is closed with
	// ErrGreetingTimeout. Bad lines before it do not extend it. 0 means no
	// such limit (IdleTimeout and ReadTimeout still apply).
	GreetingTimeout time.Duration
	// WriteTimeout is how long writing one reply with its records may take.
	// 0 means no limit.
	WriteTimeout time.Duration
	// WriteLock, when set, is held while a reply and its records are
	// written, so that another goroutine writing to the same connection
	// under it (a vendor daemon's unsolicited REVOKED line) never splits
	// or reorders a reply. nil means Serve is the connection's only writer.
	WriteLock sync.Locker
	// MaxBadLines is how many malformed or too long lines in a row are
	// answered with an ERR before the connection is closed. 0 means
	// DefaultMaxBadLines; a negative value means no limit.
	MaxBadLines int
	// First, when set, is a request already read from the connection (the
	// HELLO lmgrd read before handing the socket over); it is handled before
	// anything is read.
	First *Message
	// Log receives bad lines, handler panics and why the connection ended.
	// nil means no logging.
	Log logrus.FieldLogger
}

// Errors returned by Serve for why it closed the connection.
var (
	ErrIdleTimeout     = errors.New("wire: connection idle too long")
	ErrGreetingTimeout = errors.New("wire: greeting not completed in time")
	ErrTooManyBadLines = errors.New("wire: too many bad lines in a row")
	ErrHandlerPanic    = errors.New("wire: handler panicked")
)

var discardLog = func() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.PanicLevel)
	return l
}()

// Serve runs the request loop of one connection: it reads a request line,
// passes it to h and writes the reply, until the peer closes the connection,
// h asks to close it, a timeout passes, an I/O error occurs, or ctx is done.
// It closes c before returning.
//
// A malformed or too long line is answered with an ERR (code -12,
// [CodeBadComm]: MinorBadLine or MinorLineTooLong, with the column in
// detail=) and serving goes on; after opts.MaxBadLines such lines in a row the
// last answer has MinorTooManyErrors and the connection is closed.
//
// Serve returns nil when the peer closed the connection at a line boundary
// or h asked to close it; otherwise the reason: ctx.Err(), ErrIdleTimeout,
// ErrGreetingTimeout (possibly wrapped), ErrTooManyBadLines,
// ErrHandlerPanic, or a (wrapped) I/O error.
func Serve(ctx context.Context, c net.Conn, opts ServeOptions, h Handler) error {
	s := newServer(c, opts, h)
	// Closing (rather than moving a deadline, which the loop would move
	// back) is what reliably unblocks a read when ctx is done.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := s.serve(ctx)
	stop()
	c.Close()
	if ctx.Err() != nil && err != nil {
		err = ctx.Err()
	}
	if err != nil {
		s.connClosed(err)
	}
	return err
}

// Stack depth matters as much as buffers: a connection's goroutine spends
// nearly all its life parked in a read, and the runtime halves a parked
// goroutine's stack (8 KiB → 4 KiB) only when less than a quarter of it is
// in use. So the frames live while waiting (Serve, serve, await) are kept
// small: setup, reading a line and handling it happen in calls that have
// returned by then.

//go:noinline
func newServer(c net.Conn, opts ServeOptions, h Handler) *server {
	s := &server{c: c, opts: opts, h: h, r: NewReaderSize(bufio.NewReaderSize(c, serveReadBuffer), opts.MaxLine), log: opts.Log}
	if s.log == nil {
		s.log = discardLog
	}
	if s.opts.MaxBadLines == 0 {
		s.opts.MaxBadLines = DefaultMaxBadLines
	}
	if s.opts.ReadTimeout == 0 {
		s.opts.ReadTimeout = s.opts.IdleTimeout
	}
	if t := s.opts.GreetingTimeout; t > 0 && s.opts.First == nil {
		s.greetBy = time.Now().Add(t)
	}
	return s
}

//go:noinline
func (s *server) connClosed(err error) {
	s.log.WithError(err).WithField("remote", remote(s.c)).Debug("wire: connection closed")
}

// serve is Serve's request loop.
func (s *server) serve(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.First != nil {
		if done, err := s.handleFirst(); done || err != nil {
			return err
		}
	}
	for {
		if err := s.await(); err != nil {
			if err == io.EOF {
				return nil // the peer closed the connection between requests
			}
			return err
		}
		if done, err := s.next(); done || err != nil {
			return err
		}
	}
}

//go:noinline
func (s *server) handleFirst() (bool, error) {
	return s.handle(*s.opts.First)
}

// next reads one request and answers it (or answers a bad line).
//
//go:noinline
func (s *server) next() (done bool, err error) {
	req, err := s.read()
	if err != nil {
		return s.badLine(err)
	}
	s.bad = 0
	s.greetBy = time.Time{}
	return s.handle(req)
}

type server struct {
	c    net.Conn
	opts ServeOptions
	h    Handler
	r    *Reader
	w    Writer // its bufio.Writer is borrowed from a pool for each reply
	log  logrus.FieldLogger
	bad  int // bad lines in a row
	// greetBy is when the first line must be in (GreetingTimeout); zero
	// once it is, or when there is no such limit.
	greetBy time.Time
}

// Memory per connection matters: a vendor daemon holds one connection per
// client, most of them idle between heartbeats (docs/performance.md). So a
// served connection keeps only a small read buffer (requests are short;
// [Reader] assembles longer lines on its own) and no write buffer at all:
// each reply borrows one from a pool, a large one when it has records.
const (
	serveReadBuffer  = 512
	serveWriteBuffer = 4 << 10
	serveBulkBuffer  = 64 << 10 // replies with records (STATUS over many holders)
	serveBulkRecords = 16
)

var (
	writerPool     = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, serveWriteBuffer) }}
	bulkWriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, serveBulkBuffer) }}
)

func remote(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// await waits (up to IdleTimeout) for the next request to begin. It
// returns nil when bytes are there, ErrIdleTimeout, or the read error
// (io.EOF when the peer closed the connection).
func (s *server) await() error {
	if s.r.Buffered() > 0 {
		return nil
	}
	if err := s.armIdle(); err != nil {
		return err
	}
	if _, err := s.r.br.Peek(1); err != nil {
		return s.awaitErr(err)
	}
	return nil
}

// armIdle sets the read deadline for the wait before a request (none when
// IdleTimeout is 0, but the last line's ReadTimeout is cleared).
//
//go:noinline
func (s *server) armIdle() error {
	var dl time.Time
	if t := s.opts.IdleTimeout; t > 0 {
		dl = time.Now().Add(t)
	}
	dl = s.greetingDeadline(dl)
	if !dl.IsZero() || s.opts.ReadTimeout > 0 || s.opts.GreetingTimeout > 0 {
		return s.c.SetReadDeadline(dl)
	}
	return nil
}

// greetingDeadline is dl, or the greeting's deadline when that comes
// first (or dl is none).
func (s *server) greetingDeadline(dl time.Time) time.Time {
	if !s.greetBy.IsZero() && (dl.IsZero() || s.greetBy.Before(dl)) {
		return s.greetBy
	}
	return dl
}

//go:noinline
func (s *server) awaitErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if s.greeting() {
			return ErrGreetingTimeout
		}
		return ErrIdleTimeout
	}
	return err
}

// greeting reports whether the greeting's deadline is what has passed.
func (s *server) greeting() bool {
	return !s.greetBy.IsZero() && !time.Now().Before(s.greetBy)
}

// read reads the request whose first byte has arrived (up to ReadTimeout).
// When the whole line is buffered already (the common case: a request comes
// in one segment) nothing can block, and the deadline is left alone.
func (s *server) read() (Message, error) {
	if !s.r.lineBuffered() {
		var dl time.Time
		if t := s.opts.ReadTimeout; t > 0 {
			dl = time.Now().Add(t)
		}
		if dl = s.greetingDeadline(dl); !dl.IsZero() {
			if err := s.c.SetReadDeadline(dl); err != nil {
				return Message{}, err
			}
		}
	}
	m, err := s.r.ReadMessage()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if s.greeting() {
			return m, fmt.Errorf("%w: %w", ErrGreetingTimeout, err)
		}
		err = fmt.Errorf("wire: read timeout: %w", err)
	}
	return m, err
}

// badLine answers a read error: a bad line gets an ERR and serving goes on
// (done false, err nil); any other error ends the connection (err, or nil
// for a clean EOF).
func (s *server) badLine(err error) (done bool, _ error) {
	var pe *ProtocolError
	if !errors.As(err, &pe) && !errors.Is(err, ErrLineTooLong) {
		if err == io.EOF {
			return true, nil
		}
		return true, err
	}
	s.bad++
	e := ToError(err)
	s.log.WithError(err).WithFields(logrus.Fields{"remote": remote(s.c), "in_a_row": s.bad}).Warn("wire: bad request line")
	if s.opts.MaxBadLines > 0 && s.bad >= s.opts.MaxBadLines {
		e = NewError(CodeBadComm, MinorTooManyErrors).WithDetail(fmt.Sprintf("%d bad lines in a row, closing; last: %s", s.bad, e.Detail))
		if werr := s.write(e.Message(), nil); werr != nil {
			return true, werr
		}
		return true, ErrTooManyBadLines
	}
	return false, s.write(e.Message(), nil)
}

// handle runs the handler on req and writes its reply.
func (s *server) handle(req Message) (done bool, err error) {
	resp, recs, closeConn, p := s.call(req)
	if p != nil {
		s.log.WithFields(logrus.Fields{"remote": remote(s.c), "verb": req.Verb, "panic": p.val, "stack": string(p.stack)}).Error("wire: handler panicked")
		e := NewError(CodeBadComm, MinorInternal).WithDetail("internal error")
		s.write(e.Message(), nil)
		return true, ErrHandlerPanic
	}
	if err := s.write(resp, recs); err != nil {
		if errors.Is(err, ErrLineTooLong) || resp.Validate() != nil || !validRecords(recs) {
			// The handler built a reply that cannot be sent; tell the
			// peer rather than leave it waiting.
			s.log.WithError(err).WithFields(logrus.Fields{"remote": remote(s.c), "verb": req.Verb}).Error("wire: handler returned an unwritable reply")
			e := NewError(CodeBadComm, MinorInternal).WithDetail("internal error")
			if werr := s.write(e.Message(), nil); werr != nil {
				return true, werr
			}
			return closeConn, nil
		}
		return true, err
	}
	return closeConn, nil
}

func validRecords(recs []Message) bool {
	for _, r := range recs {
		if check(r) != nil {
			return false
		}
	}
	return true
}

type panicked struct {
	val   any
	stack []byte
}

// call runs the handler, turning a panic into p.
func (s *server) call(req Message) (resp Message, recs []Message, closeConn bool, p *panicked) {
	defer func() {
		if r := recover(); r != nil {
			p = &panicked{val: r, stack: debug.Stack()}
		}
	}()
	resp, recs, closeConn = s.h.Handle(req)
	return resp, recs, closeConn, nil
}

func (s *server) write(resp Message, recs []Message) error {
	if l := s.opts.WriteLock; l != nil {
		l.Lock()
		defer l.Unlock()
	}
	if t := s.opts.WriteTimeout; t > 0 {
		if err := s.c.SetWriteDeadline(time.Now().Add(t)); err != nil {
			return err
		}
	}
	pool := &writerPool
	if len(recs) > serveBulkRecords {
		pool = &bulkWriterPool
	}
	bw := pool.Get().(*bufio.Writer)
	bw.Reset(s.c)
	s.w.bw = bw
	err := writeReply(&s.w, resp, recs)
	// writeReply flushes, so nothing is left behind; after an error the
	// connection is done with and the buffer's contents do not matter.
	s.w.bw = nil
	bw.Reset(nil)
	pool.Put(bw)
	return err
}

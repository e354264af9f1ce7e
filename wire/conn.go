package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// MaxRecords caps the records=N a [Conn] accepts in one reply.
const MaxRecords = 1 << 20

// Conn is a protocol connection: a net.Conn with a [Reader] and a [Writer].
// Clients use [Conn.Call]; servers that do not use [Serve] may use
// [Conn.Receive] and [Conn.Send]. It is safe for concurrent use: calls are
// serialized.
//
// After an I/O or protocol error during a Call (a timeout or a cancelled
// context included) the request and reply streams may be out of step, so the
// Conn refuses further calls with an error wrapping the first one; close it
// and dial again. An ERR reply is not such an error.
type Conn struct {
	c net.Conn

	rmu sync.Mutex // held for reading; Call takes rmu then wmu
	r   *Reader
	wmu sync.Mutex // held for writing
	w   *Writer

	errMu  sync.Mutex
	broken error
}

// NewConn returns a Conn over c with the default line limit.
func NewConn(c net.Conn) *Conn {
	return &Conn{c: c, r: NewReader(c), w: NewWriter(c)}
}

// Raw returns the underlying net.Conn.
func (c *Conn) Raw() net.Conn { return c.c }

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.c.Close() }

// Buffered returns the number of received bytes not yet read as messages.
func (c *Conn) Buffered() int {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.r.Buffered()
}

// Call sends req and reads its reply. For an OK reply with records=N it also
// reads the N record lines that follow. For an ERR reply it returns the reply
// and its *Error (see [ErrorFromMessage]); the caller may still read extra
// arguments such as master= from the reply.
//
// The context's deadline bounds the whole exchange and cancelling the context
// aborts it; the error then wraps ctx.Err().
func (c *Conn) Call(ctx context.Context, req Message) (Message, []Message, error) {
	if err := check(req); err != nil {
		return Message{}, nil, err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.brokenErr(); err != nil {
		return Message{}, nil, err
	}
	if err := ctx.Err(); err != nil {
		return Message{}, nil, fmt.Errorf("wire: %s: %w", req.Verb, err)
	}

	dl, _ := ctx.Deadline() // zero when none: clears an earlier deadline
	if err := c.c.SetDeadline(dl); err != nil {
		return Message{}, nil, c.fail(req.Verb, err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		c.c.SetDeadline(aLongTimeAgo) // wake up blocked I/O
	})
	resp, recs, err := c.call(req)
	if !stop() {
		// Cancelled during the exchange. Wait for the deadline to be
		// moved so it cannot hit a later call (which sets its own).
		<-fired
	}
	if err != nil {
		switch cerr := ctx.Err(); {
		case cerr != nil:
			err = fmt.Errorf("%w: %w", cerr, err)
		case !dl.IsZero() && errors.Is(err, os.ErrDeadlineExceeded):
			// The socket deadline fired a moment before the context's.
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return Message{}, nil, c.fail(req.Verb, err)
	}
	if e := ErrorFromMessage(resp); e != nil {
		return resp, nil, e
	}
	return resp, recs, nil
}

func (c *Conn) call(req Message) (Message, []Message, error) {
	if err := c.w.WriteMessage(req); err != nil {
		return Message{}, nil, err
	}
	resp, err := c.r.ReadMessage()
	if err != nil {
		return Message{}, nil, err
	}
	if resp.Verb != VerbOK {
		return resp, nil, nil
	}
	v, ok := resp.Lookup("records")
	if !ok {
		return resp, nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxRecords {
		return Message{}, nil, fmt.Errorf("wire: invalid records=%q in reply", v)
	}
	recs := make([]Message, 0, min(n, 1024))
	for range n {
		rec, err := c.r.ReadMessage()
		if err != nil {
			return Message{}, nil, fmt.Errorf("wire: reading record %d of %d: %w", len(recs)+1, n, err)
		}
		recs = append(recs, rec)
	}
	return resp, recs, nil
}

func (c *Conn) brokenErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.broken != nil {
		return fmt.Errorf("wire: connection unusable after an earlier error: %w", c.broken)
	}
	return nil
}

// fail records err as the reason the Conn is out of step and returns it.
func (c *Conn) fail(verb string, err error) error {
	err = fmt.Errorf("wire: %s: %w", verb, err)
	c.errMu.Lock()
	if c.broken == nil {
		c.broken = err
	}
	c.errMu.Unlock()
	return err
}

// Send writes m and flushes it. Servers use it for replies, with SendReply
// for replies with records.
func (c *Conn) Send(m Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.WriteMessage(m)
}

// SendReply writes a reply followed by its records and flushes once. When
// there are records, or resp already has a records= argument, records= is set
// to len(records) on a copy of resp, so the count always matches.
func (c *Conn) SendReply(resp Message, records ...Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeReply(c.w, resp, records)
}

// Receive reads the next message. Its errors are those of
// [Reader.ReadMessage]; after a *ProtocolError or ErrLineTooLong the
// connection may go on.
func (c *Conn) Receive() (Message, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.r.ReadMessage()
}

func writeReply(w *Writer, resp Message, records []Message) error {
	if len(records) == 0 && !resp.Has("records") {
		return w.WriteMessage(resp)
	}
	resp = resp.Clone()
	resp.SetInt("records", len(records))
	ms := make([]Message, 0, 1+len(records))
	ms = append(ms, resp)
	ms = append(ms, records...)
	return w.WriteMessages(ms...)
}

// aLongTimeAgo is a deadline in the past, to abort blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

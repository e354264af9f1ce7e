package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrLineTooLong is returned by [Reader] for a line longer than its limit
// (the rest of the line has been read and discarded, so the next read starts
// on the next line) and by [Writer] for a message whose line would be longer
// than [MaxLine] (nothing is written).
var ErrLineTooLong = errors.New("wire: line too long")

// Reader reads protocol lines from a bufio.Reader, at most maxLine bytes each.
//
// A line may be longer than the bufio.Reader's buffer: the reader then
// assembles it in a buffer of its own, so a connection needs only the
// (default 4 KiB) bufio buffer until a long line arrives.
type Reader struct {
	br      *bufio.Reader
	maxLine int
	buf     []byte // assembles lines longer than br's buffer
}

// NewReader returns a Reader over r with the default line limit [MaxLine].
// If r is a *bufio.Reader it is used directly.
func NewReader(r io.Reader) *Reader {
	return NewReaderSize(r, MaxLine)
}

// NewReaderSize returns a Reader over r that rejects lines longer than
// maxLine bytes (not counting the line ending); maxLine <= 0 means [MaxLine].
// If r is a *bufio.Reader it is used directly.
func NewReaderSize(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = MaxLine
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Reader{br: br, maxLine: maxLine}
}

// Buffered returns the number of bytes read from the underlying reader but
// not yet returned. lmgrd checks it is zero before handing a connection's
// socket to a vendor daemon: buffered bytes would be lost in the hand-off.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// lineBuffered reports whether a whole line is buffered, so that reading it
// cannot block.
func (r *Reader) lineBuffered() bool {
	b, _ := r.br.Peek(r.br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// ReadLine reads one line and returns it without its "\n" or "\r\n".
// It returns io.EOF at a clean end of input, io.ErrUnexpectedEOF when the
// input ends inside a line, and ErrLineTooLong (having discarded the rest of
// the line) for a line longer than the limit.
func (r *Reader) ReadLine() (string, error) {
	line, err := r.readLineSlice()
	if err != nil {
		return "", err
	}
	s := string(line)
	r.release()
	return s, nil
}

// ReadMessage reads and parses one line. Besides ReadLine's errors it returns
// a *ProtocolError for a malformed line, after which the reader is still at
// a line boundary and may go on.
func (r *Reader) ReadMessage() (Message, error) {
	line, err := r.ReadLine()
	if err != nil {
		return Message{}, err
	}
	return ParseMessage(line)
}

// release drops a large assembly buffer so that an idle connection does not
// keep it.
func (r *Reader) release() {
	if cap(r.buf) > 16*1024 {
		r.buf = nil
	}
}

// readLineSlice returns the next line without its ending. The slice is valid
// until the next read.
func (r *Reader) readLineSlice() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		switch err {
		case nil:
			line := frag
			if len(r.buf) > 0 {
				r.buf = append(r.buf, frag...)
				line = r.buf
			}
			line = line[:len(line)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > r.maxLine {
				r.release()
				return nil, ErrLineTooLong
			}
			return line, nil
		case bufio.ErrBufferFull:
			// +1: the last byte may be the '\r' of a "\r\n".
			if len(r.buf)+len(frag) > r.maxLine+1 {
				r.buf = r.buf[:0]
				r.release()
				return nil, r.discardLine()
			}
			r.buf = append(r.buf, frag...)
		default:
			if err == io.EOF && len(r.buf)+len(frag) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// discardLine skips the rest of a too-long line. It returns ErrLineTooLong
// once the line's end has been read, or the read error that stopped it.
func (r *Reader) discardLine() error {
	for {
		_, err := r.br.ReadSlice('\n')
		switch err {
		case nil:
			return ErrLineTooLong
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
}

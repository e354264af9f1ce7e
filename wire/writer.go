package wire

import (
	"bufio"
	"io"
)

// Writer writes protocol lines to a bufio.Writer.
type Writer struct {
	bw *bufio.Writer
}

// NewWriter returns a Writer over w. If w is a *bufio.Writer it is used
// directly.
func NewWriter(w io.Writer) *Writer {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriter(w)
	}
	return &Writer{bw: bw}
}

// WriteMessage writes m as one line and flushes it. It writes nothing and
// returns an error if m is invalid (see [Message.Validate]) or its line would
// be longer than [MaxLine] ([ErrLineTooLong]).
func (w *Writer) WriteMessage(m Message) error {
	if err := w.write(m); err != nil {
		return err
	}
	return w.bw.Flush()
}

// WriteMessages writes the messages, one line each, and flushes once at the
// end: a reply and its records leave in as few packets as possible. It
// checks every message before writing any, so an invalid one means nothing is
// written.
func (w *Writer) WriteMessages(ms ...Message) error {
	for _, m := range ms {
		if err := check(m); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if err := w.write(m); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}

func (w *Writer) write(m Message) error {
	if err := check(m); err != nil {
		return err
	}
	b := m.AppendTo(w.bw.AvailableBuffer())
	b = append(b, '\n')
	_, err := w.bw.Write(b)
	return err
}

// check validates m and the length of its line.
func check(m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if lineLen(m) > MaxLine {
		return ErrLineTooLong
	}
	return nil
}

// lineLen returns len(m.String()) without building the line.
func lineLen(m Message) int {
	n := len(m.Verb)
	for _, a := range m.Args {
		n += 2 + len(a.Key) + valueLen(a.Value)
	}
	return n
}

func valueLen(v string) int {
	if v == "" {
		return 2
	}
	n, quote := 2, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			n += 2
			quote = quote || c != '\\'
		case isControl(c):
			n += 4
			quote = true
		default:
			n++
			quote = quote || c == ' '
		}
	}
	if !quote {
		return len(v)
	}
	return n
}

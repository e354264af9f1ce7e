package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func reader(s string) *Reader {
	return NewReader(bufio.NewReader(strings.NewReader(s)))
}

// readerSize uses a tiny bufio buffer so that lines span several fills.
func readerSize(s string, maxLine int) *Reader {
	return NewReaderSize(bufio.NewReaderSize(strings.NewReader(s), 16), maxLine)
}

func TestReadLine(t *testing.T) {
	r := reader("INFO\nDOWN force=1\r\n\nlast")
	for _, want := range []string{"INFO", "DOWN force=1", ""} {
		got, err := r.ReadLine()
		if got != want || err != nil {
			t.Fatalf("ReadLine() = %q, %v, want %q, nil", got, err, want)
		}
	}
	if got, err := r.ReadLine(); got != "" || err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadLine() at a partial last line = %q, %v, want io.ErrUnexpectedEOF", got, err)
	}
}

func TestReadLineCleanEOF(t *testing.T) {
	r := reader("INFO\n")
	r.ReadLine()
	for range 2 {
		if _, err := r.ReadLine(); err != io.EOF {
			t.Fatalf("ReadLine() at end = %v, want io.EOF", err)
		}
	}
}

func TestReadLineSpansBuffers(t *testing.T) {
	long := "A k=" + strings.Repeat("x", 100)
	r := readerSize(long+"\r\nB\n", 200)
	if got, err := r.ReadLine(); got != long || err != nil {
		t.Fatalf("ReadLine() = %q, %v, want %q", got, err, long)
	}
	if got, err := r.ReadLine(); got != "B" || err != nil {
		t.Fatalf("ReadLine() = %q, %v, want B", got, err)
	}
}

func TestReadLineTooLong(t *testing.T) {
	const max = 40
	exact := strings.Repeat("x", max)
	tests := []struct {
		name string
		in   string
		want []string // "!" marks ErrLineTooLong
	}{
		{"limit", exact + "\nB\n", []string{exact, "B"}},
		{"limit crlf", exact + "\r\nB\n", []string{exact, "B"}},
		{"one over", exact + "y\nB\n", []string{"!", "B"}},
		{"one over crlf", exact + "y\r\nB\n", []string{"!", "B"}},
		{"far over", strings.Repeat("z", 1000) + "\nB\nC\n", []string{"!", "B", "C"}},
		{"two long", strings.Repeat("z", 100) + "\n" + strings.Repeat("w", 100) + "\nB\n", []string{"!", "!", "B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readerSize(tt.in, max)
			for _, want := range tt.want {
				got, err := r.ReadLine()
				if want == "!" {
					if err != ErrLineTooLong {
						t.Fatalf("ReadLine() = %q, %v, want ErrLineTooLong", got, err)
					}
					continue
				}
				if got != want || err != nil {
					t.Fatalf("ReadLine() = %q, %v, want %q", got, err, want)
				}
			}
			if _, err := r.ReadLine(); err != io.EOF {
				t.Fatalf("ReadLine() at end = %v, want io.EOF", err)
			}
		})
	}
}

func TestReadLineTooLongAtEOF(t *testing.T) {
	r := readerSize(strings.Repeat("z", 100), 40)
	if _, err := r.ReadLine(); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadLine() = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadLineOneByteReader(t *testing.T) {
	r := NewReaderSize(iotest.OneByteReader(strings.NewReader("A k=\"x y\"\r\n"+strings.Repeat("q", 50)+"\nB\n")), 20)
	m, err := r.ReadMessage()
	if err != nil || m.String() != `A k="x y"` {
		t.Fatalf("ReadMessage() = %v, %v", m, err)
	}
	if _, err := r.ReadMessage(); err != ErrLineTooLong {
		t.Fatalf("ReadMessage() = %v, want ErrLineTooLong", err)
	}
	if m, err := r.ReadMessage(); err != nil || m.Verb != "B" {
		t.Fatalf("ReadMessage() = %v, %v, want B", m, err)
	}
}

func TestReadMessage(t *testing.T) {
	r := reader("HELLO proto=1 vendor=demo\nbad line\nOK records=1\nPOOL feature=f1\n")
	m, err := r.ReadMessage()
	if err != nil || m.Verb != "HELLO" || m.Get("vendor") != "demo" {
		t.Fatalf("ReadMessage() = %v, %v", m, err)
	}
	_, err = r.ReadMessage()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Col != 1 {
		t.Fatalf("ReadMessage() on a bad line = %v, want a *ProtocolError at column 1", err)
	}
	for _, want := range []string{"OK records=1", "POOL feature=f1"} {
		m, err := r.ReadMessage()
		if err != nil || m.String() != want {
			t.Fatalf("ReadMessage() = %v, %v, want %s", m, err, want)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("ReadMessage() at end = %v, want io.EOF", err)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(iotest.ErrReader(boom))
	if _, err := r.ReadLine(); err != boom {
		t.Fatalf("ReadLine() = %v, want %v", err, boom)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteMessage(New("CHECKIN", "handle", "7")); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "CHECKIN handle=7\n" {
		t.Fatalf("WriteMessage wrote %q", got)
	}
	buf.Reset()
	if err := w.WriteMessages(OK("records", "2"), New("POOL", "feature", "a b"), New("POOL", "feature", "c")); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "OK records=2\nPOOL feature=\"a b\"\nPOOL feature=c\n"; got != want {
		t.Fatalf("WriteMessages wrote %q, want %q", got, want)
	}
}

func TestWriterRejects(t *testing.T) {
	huge := New("A", "k", strings.Repeat("x", MaxLine))
	tests := []struct {
		name string
		ms   []Message
		want error
	}{
		{"bad verb", []Message{New("ok")}, nil},
		{"bad key", []Message{New("OK", "a b", "1")}, nil},
		{"too long", []Message{huge}, ErrLineTooLong},
		{"second invalid", []Message{OK(), New("A", "K", "1")}, nil},
		{"second too long", []Message{OK(), huge}, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			var err error
			if len(tt.ms) == 1 {
				err = w.WriteMessage(tt.ms[0])
			} else {
				err = w.WriteMessages(tt.ms...)
			}
			if err == nil || tt.want != nil && err != tt.want {
				t.Errorf("got %v, want an error (%v)", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %q, want nothing", buf.String())
			}
		})
	}
	// Exactly MaxLine is fine, and reads back.
	var buf bytes.Buffer
	m := New("A", "k", strings.Repeat("x", MaxLine-4))
	if err := NewWriter(&buf).WriteMessage(m); err != nil {
		t.Fatalf("WriteMessage of a MaxLine line: %v", err)
	}
	got, err := NewReader(&buf).ReadMessage()
	if err != nil || !got.Equal(m) {
		t.Fatalf("reading a MaxLine line back: %v", err)
	}
}

package wire

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxLine is the default limit on the length of a line, in bytes, not counting
// the "\n" or "\r\n" that ends it.
const MaxLine = 64 * 1024

// Arg is one key=value argument of a message.
type Arg struct {
	Key, Value string
}

// Message is one protocol line: a verb and its arguments in line order.
//
// Keys are distinct within a message: [ParseMessage] rejects a repeated key,
// [Message.Set] replaces an existing one. A parsed message's strings share
// memory with the line they came from.
type Message struct {
	Verb string
	Args []Arg
}

// New returns a message with the given verb and arguments, given as pairs
// key, value. It panics if kv has an odd length, which is a programming error.
// The pairs are appended as given; use distinct keys (or [Message.Set]).
func New(verb string, kv ...string) Message {
	if len(kv)%2 != 0 {
		panic("wire.New: odd number of key/value strings")
	}
	m := Message{Verb: verb}
	if len(kv) > 0 {
		m.Args = make([]Arg, 0, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			m.Args = append(m.Args, Arg{Key: kv[i], Value: kv[i+1]})
		}
	}
	return m
}

// Lookup returns the value of key and whether the message has that key.
func (m Message) Lookup(key string) (string, bool) {
	for _, a := range m.Args {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// Get returns the value of key, or "" if the message has no such key.
func (m Message) Get(key string) string {
	v, _ := m.Lookup(key)
	return v
}

// Has reports whether the message has the key.
func (m Message) Has(key string) bool {
	_, ok := m.Lookup(key)
	return ok
}

// ErrMissingArg is the cause (see [ArgError]) when a required argument is absent.
var ErrMissingArg = errors.New("missing argument")

// ArgError reports a missing or malformed argument. Err is [ErrMissingArg] or
// the reason the value did not convert (for example strconv.ErrSyntax or
// strconv.ErrRange).
type ArgError struct {
	Verb  string
	Key   string
	Value string
	Err   error
}

func (e *ArgError) Error() string {
	if errors.Is(e.Err, ErrMissingArg) {
		return fmt.Sprintf("wire: %s: missing argument %s=", e.Verb, e.Key)
	}
	return fmt.Sprintf("wire: %s: argument %s=%s: %v", e.Verb, e.Key, strconv.Quote(e.Value), e.Err)
}

func (e *ArgError) Unwrap() error { return e.Err }

func (m Message) argError(key, value string, err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	return &ArgError{Verb: m.Verb, Key: key, Value: value, Err: err}
}

// Int returns the value of key as a decimal int. The error, an [*ArgError],
// names the key when it is missing or not an integer.
func (m Message) Int(key string) (int, error) {
	v, ok := m.Lookup(key)
	if !ok {
		return 0, m.argError(key, "", ErrMissingArg)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, m.argError(key, v, err)
	}
	return n, nil
}

// Uint64 returns the value of key as a decimal uint64. The error, an
// [*ArgError], names the key when it is missing or not an unsigned integer.
func (m Message) Uint64(key string) (uint64, error) {
	v, ok := m.Lookup(key)
	if !ok {
		return 0, m.argError(key, "", ErrMissingArg)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, m.argError(key, v, err)
	}
	return n, nil
}

// Set gives key the value, replacing the existing argument in place or
// appending a new one.
func (m *Message) Set(key, value string) {
	for i := range m.Args {
		if m.Args[i].Key == key {
			m.Args[i].Value = value
			return
		}
	}
	m.Args = append(m.Args, Arg{Key: key, Value: value})
}

// SetInt is Set with a decimal integer value.
func (m *Message) SetInt(key string, v int) {
	m.Set(key, strconv.Itoa(v))
}

// Del removes key from the message, if present.
func (m *Message) Del(key string) {
	for i := range m.Args {
		if m.Args[i].Key == key {
			m.Args = append(m.Args[:i], m.Args[i+1:]...)
			return
		}
	}
}

// Clone returns a copy of m whose Args do not share memory with m's.
func (m Message) Clone() Message {
	if m.Args != nil {
		m.Args = append([]Arg(nil), m.Args...)
	}
	return m
}

// Equal reports whether m and o have the same verb and the same arguments in
// the same order. A nil and an empty Args are equal.
func (m Message) Equal(o Message) bool {
	if m.Verb != o.Verb || len(m.Args) != len(o.Args) {
		return false
	}
	for i := range m.Args {
		if m.Args[i] != o.Args[i] {
			return false
		}
	}
	return true
}

// String returns the message as a line, without the trailing newline.
// It does not validate; see [Message.Validate].
func (m Message) String() string {
	n := len(m.Verb)
	for _, a := range m.Args {
		n += len(a.Key) + len(a.Value) + 4
	}
	return string(m.AppendTo(make([]byte, 0, n)))
}

// AppendTo appends the message line, without the trailing newline, to b and
// returns the extended slice. Values are quoted only when needed, so the
// common case makes no allocation beyond growing b. It does not validate the
// verb and keys; [Writer] does (see [Message.Validate]).
func (m Message) AppendTo(b []byte) []byte {
	b = append(b, m.Verb...)
	for _, a := range m.Args {
		b = append(b, ' ')
		b = append(b, a.Key...)
		b = append(b, '=')
		b = appendValue(b, a.Value)
	}
	return b
}

// appendValue appends v bare when that reads back as v, else quoted.
func appendValue(b []byte, v string) []byte {
	if v == "" {
		return append(b, '"', '"')
	}
	for i := 0; i < len(v); i++ {
		if !isBareByte(v[i]) {
			return appendQuoted(b, v)
		}
	}
	return append(b, v...)
}

const hexDigits = "0123456789abcdef"

func appendQuoted(b []byte, v string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		var esc byte
		switch c {
		case '"', '\\':
			esc = c
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\t':
			esc = 't'
		default:
			if !isControl(c) {
				continue
			}
		}
		b = append(b, v[start:i]...)
		if esc != 0 {
			b = append(b, '\\', esc)
		} else {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}

// Validate reports whether m can be written as a line that reads back as m:
// a well-formed verb and well-formed, distinct keys. Values need no checking;
// any value can be written.
func (m Message) Validate() error {
	if !validVerb(m.Verb) {
		return fmt.Errorf("wire: invalid verb %s", strconv.Quote(m.Verb))
	}
	for i, a := range m.Args {
		if !validKey(a.Key) {
			return fmt.Errorf("wire: %s: invalid key %s", m.Verb, strconv.Quote(a.Key))
		}
		for _, p := range m.Args[:i] {
			if p.Key == a.Key {
				return fmt.Errorf("wire: %s: duplicate key %s", m.Verb, a.Key)
			}
		}
	}
	return nil
}

func validVerb(s string) bool {
	if s == "" || !isUpper(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isVerbByte(s[i]) {
			return false
		}
	}
	return true
}

func validKey(s string) bool {
	if s == "" || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func isUpper(c byte) bool    { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool    { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isVerbByte(c byte) bool { return isUpper(c) || isDigit(c) || c == '_' }
func isKeyByte(c byte) bool  { return isLower(c) || isDigit(c) || c == '_' }
func isBlank(c byte) bool    { return c == ' ' || c == '\t' }

// isControl reports the bytes that may not appear raw in a line (tab is a
// separator and may appear raw, but writers escape it inside quotes).
func isControl(c byte) bool { return c < 0x20 && c != '\t' || c == 0x7f }

// isBareByte reports the bytes that may appear in an unquoted value.
func isBareByte(c byte) bool { return c > ' ' && c != '"' && c != 0x7f }

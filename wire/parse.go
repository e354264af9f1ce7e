package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// ProtocolError reports a malformed line: what is wrong and where. It is
// meant for the log; the peer gets an ERR with code [CodeBadComm] (see
// [ToError]).
type ProtocolError struct {
	Col int    // 1-based byte column of the offending byte (len(line)+1 at the end of the line)
	Msg string // what is wrong
}

func (e *ProtocolError) Error() string {
	return "wire: column " + strconv.Itoa(e.Col) + ": " + e.Msg
}

func perr(i int, format string, args ...any) *ProtocolError {
	return &ProtocolError{Col: i + 1, Msg: fmt.Sprintf(format, args...)}
}

// quoteByte shows one byte of a bad line in an error message.
func quoteByte(c byte) string {
	if c < 0x80 {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// ParseMessage parses one line, given with or without its "\n" or "\r\n".
// It is pure and never panics; a malformed line yields a [*ProtocolError].
// Blanks (spaces and tabs) between arguments may be repeated and may trail;
// a line may not start with one. A value written key= (nothing after the
// '=') is read as the empty string.
func ParseMessage(line string) (Message, error) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n > 1 && line[n-2] == '\r' {
			line = line[:n-2]
		}
	}
	var m Message
	if line == "" {
		return m, perr(0, "empty line")
	}
	i := 0
	for i < len(line) && isVerbByte(line[i]) {
		i++
	}
	switch {
	case i == 0 && isBlank(line[0]):
		return m, perr(0, "line starts with a blank")
	case i == 0 || !isUpper(line[0]):
		return m, perr(0, "verb must start with an upper-case letter, found %s", quoteByte(line[0]))
	case i < len(line) && !isBlank(line[i]):
		return m, perr(i, "invalid character %s in verb", quoteByte(line[i]))
	}
	m.Verb = line[:i]
	if i == len(line) {
		return m, nil
	}
	// One Arg per '=' is an upper bound (and usually exact): one allocation.
	if n := strings.Count(line[i:], "="); n > 0 {
		m.Args = make([]Arg, 0, n)
	}
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			return m, nil
		}
		// key
		k := i
		if !isLower(line[i]) {
			return Message{}, perr(i, "key must start with a lower-case letter, found %s", quoteByte(line[i]))
		}
		for i < len(line) && isKeyByte(line[i]) {
			i++
		}
		key := line[k:i]
		if i == len(line) || isBlank(line[i]) {
			return Message{}, perr(i, "missing '=' after key %s", key)
		}
		if line[i] != '=' {
			return Message{}, perr(i, "invalid character %s in key", quoteByte(line[i]))
		}
		for _, a := range m.Args {
			if a.Key == key {
				return Message{}, perr(k, "duplicate key %s", key)
			}
		}
		i++
		// value
		var val string
		if i < len(line) && line[i] == '"' {
			var err *ProtocolError
			val, i, err = parseQuoted(line, i)
			if err != nil {
				return Message{}, err
			}
			if i < len(line) && !isBlank(line[i]) {
				return Message{}, perr(i, "expected a blank after the closing quote, found %s", quoteByte(line[i]))
			}
		} else {
			v := i
			for i < len(line) && !isBlank(line[i]) {
				c := line[i]
				if c == '"' {
					return Message{}, perr(i, "quote inside an unquoted value")
				}
				if isControl(c) {
					return Message{}, perr(i, "control character %s", quoteByte(c))
				}
				i++
			}
			val = line[v:i]
		}
		m.Args = append(m.Args, Arg{Key: key, Value: val})
	}
}

// parseQuoted reads the quoted string whose opening quote is at line[q] and
// returns its value and the index just past the closing quote.
func parseQuoted(line string, q int) (string, int, *ProtocolError) {
	i := q + 1
	// Fast path: no escapes, the value is a substring of the line.
	for i < len(line) {
		c := line[i]
		if c == '"' {
			return line[q+1 : i], i + 1, nil
		}
		if c == '\\' {
			break
		}
		if isControl(c) {
			return "", 0, perr(i, "control character %s in quoted value", quoteByte(c))
		}
		i++
	}
	if i == len(line) {
		return "", 0, perr(q, "unterminated quoted value")
	}
	var b strings.Builder
	b.Grow(i - q)
	b.WriteString(line[q+1 : i])
	for i < len(line) {
		c := line[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case isControl(c):
			return "", 0, perr(i, "control character %s in quoted value", quoteByte(c))
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 == len(line) {
			return "", 0, perr(q, "unterminated quoted value")
		}
		switch e := line[i+1]; e {
		case '"', '\\':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x':
			if i+3 >= len(line) || unhex(line[i+2]) < 0 || unhex(line[i+3]) < 0 {
				return "", 0, perr(i, `invalid \x escape, want two hex digits`)
			}
			b.WriteByte(byte(unhex(line[i+2])<<4 | unhex(line[i+3])))
			i += 2
		default:
			return "", 0, perr(i, "unknown escape in quoted value: backslash followed by %s", quoteByte(e))
		}
		i += 2
	}
	return "", 0, perr(q, "unterminated quoted value")
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

package options

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// limits bounds what one Parse may hold; tests shrink them.
type limits struct {
	line, file, lines, problems int
}

var defaultLimits = limits{line: MaxLineBytes, file: MaxFileBytes, lines: MaxLines, problems: MaxProblems}

var errTooLarge = errors.New("file too large")

// logical is one logical line: continuations joined, with the number of its
// first physical line. long is set when a piece was cut at the line limit;
// the text is then incomplete and the line must be rejected.
type logical struct {
	line int
	text string
	long bool
}

// lexer reads physical lines from r within the limits and joins them into
// logical lines.
type lexer struct {
	br    *bufio.Reader
	lim   limits
	n     int // number of the last physical line read
	total int
	eof   bool
	buf   []byte
}

func newLexer(r io.Reader, lim limits) *lexer {
	return &lexer{br: bufio.NewReaderSize(r, 4096), lim: lim}
}

// physical returns the next physical line without its end of line. A line
// longer than the limit comes back empty with long set; last is its last
// non-blank byte and first its first, so that a cut line still tells whether
// it is a comment and whether it continues.
func (lx *lexer) physical() (line []byte, long bool, first, last byte, err error) {
	if lx.eof {
		return nil, false, 0, 0, io.EOF
	}
	lx.buf = lx.buf[:0]
	got, seen := false, false // seen: first is set
	for {
		frag, e := lx.br.ReadSlice('\n')
		lx.total += len(frag)
		if lx.total > lx.lim.file {
			return nil, false, 0, 0, errTooLarge
		}
		got = got || len(frag) > 0
		for i := 0; !seen && i < len(frag); i++ {
			if !isSpace(frag[i]) && frag[i] != '\n' {
				first, seen = frag[i], true
			}
		}
		for i := len(frag) - 1; i >= 0; i-- {
			if !isSpace(frag[i]) && frag[i] != '\n' {
				last = frag[i]
				break
			}
		}
		if !long {
			if len(lx.buf)+len(frag) > lx.lim.line+2 { // room for "\r\n"
				long = true
				lx.buf = lx.buf[:0]
			} else {
				lx.buf = append(lx.buf, frag...)
			}
		}
		switch e {
		case nil:
			lx.n++
			return trimEOL(lx.buf), long, first, last, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			lx.eof = true
			if !got {
				return nil, false, 0, 0, io.EOF
			}
			lx.n++
			return trimEOL(lx.buf), long, first, last, nil
		default:
			return nil, false, 0, 0, e
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// next returns the next logical line. A physical line whose last non-blank
// byte is a backslash continues on the next one (blanks after the backslash
// are tolerated, as lmgrd does for license files); pieces are joined with one
// space. Blank lines end a logical line; '#' comment lines are dropped,
// also in the middle of a continuation, which goes on after them.
func (lx *lexer) next() (logical, error) {
	var (
		cur  strings.Builder
		open logical // open.line == 0: no line open
	)
	for {
		phys, long, first, last, err := lx.physical()
		if err != nil {
			if open.line != 0 && err == io.EOF { // the file ends with a backslash
				open.text = cur.String()
				return open, nil
			}
			if open.line != 0 && err == errTooLarge {
				open.text = cur.String()
				open.long = true
				return open, nil
			}
			return logical{}, err
		}
		body := trimSpace(string(phys))
		if first == '#' {
			continue
		}
		if open.line == 0 && !long && body == "" {
			continue
		}
		cont := last == '\\'
		if cont && !long {
			body = trimRightSpace(body[:len(body)-1])
		}
		if open.line == 0 {
			open.line = lx.n
		}
		if long || cur.Len()+1+len(body) > lx.lim.line {
			open.long = true
		} else if body != "" {
			if cur.Len() > 0 {
				cur.WriteByte(' ')
			}
			cur.WriteString(body)
		}
		if !cont {
			open.text = cur.String()
			return open, nil
		}
	}
}

// isSpace reports whether c separates fields. Only ASCII blanks count: 8-bit
// Latin names must not be taken apart.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpace(s string) string { return trimRightSpace(trimLeftSpace(s)) }

func trimLeftSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

func trimRightSpace(s string) string {
	i := len(s)
	for i > 0 && isSpace(s[i-1]) {
		i--
	}
	return s[:i]
}

var errUnterminated = errors.New("unterminated quoted value")

// tokenize splits a logical line into fields. Double quotes group blanks into
// a field and are removed, wherever they stand ("a b", f1:VENDOR_STRING="a b").
// An unquoted field starting with '#' starts a trailing comment.
func tokenize(s string) ([]string, error) {
	var toks []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || s[i] == '#' {
			return toks, nil
		}
		// Fast path: a field without quotes is a slice of s, no copy.
		j := i
		for j < len(s) && !isSpace(s[j]) && s[j] != '"' {
			j++
		}
		if j == len(s) || isSpace(s[j]) {
			toks = append(toks, s[i:j])
			i = j
			continue
		}
		var (
			b       strings.Builder
			inQuote bool
		)
		for ; i < len(s) && (inQuote || !isSpace(s[i])); i++ {
			if s[i] == '"' {
				inQuote = !inQuote
				continue
			}
			b.WriteByte(s[i])
		}
		if inQuote {
			return nil, errUnterminated
		}
		toks = append(toks, b.String())
	}
}

// needsQuotes reports whether field s must be quoted to read back as one
// field with the same text. Fields never hold a '"' or a newline.
func needsQuotes(s string) bool {
	if s == "" || s[0] == '#' || s[len(s)-1] == '\\' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return true
		}
	}
	return false
}

// quote returns s as one field.
func quote(s string) string {
	if needsQuotes(s) {
		return `"` + s + `"`
	}
	return s
}

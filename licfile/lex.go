package licfile

import (
	"errors"
	"strings"
)

// logicalLine is one line of a license file after continuation lines are
// joined, with the number of its first physical line.
type logicalLine struct {
	line int
	text string
}

// isSpace reports whether c separates fields. Only ASCII blanks count: license
// files may hold 8-bit Latin text, which must not be taken apart.
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

// splitLines cuts data into logical lines. A physical line whose last
// non-blank byte is a backslash continues on the next one: real files often
// have blanks after the backslash, and lmgrd accepts them. The pieces are
// joined with one space, also inside a quoted value (a SIGN= split over two
// lines). Blank lines and lines starting with '#' are dropped; a '#' line
// inside a continuation is content and ends up as a trailing comment.
func splitLines(data []byte) []logicalLine {
	var (
		lines []logicalLine
		cur   strings.Builder
		start int // first physical line of cur; 0 when no line is open
	)
	s := string(data)
	for n := 1; len(s) > 0; n++ {
		var phys string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			phys, s = s[:i], s[i+1:]
		} else {
			phys, s = s, ""
		}
		phys = strings.TrimSuffix(phys, "\r")
		body := trimSpace(phys)
		if start == 0 && (body == "" || body[0] == '#') {
			continue
		}
		cont := strings.HasSuffix(body, `\`)
		if cont {
			body = trimRightSpace(body[:len(body)-1])
		}
		if start == 0 && !cont { // the common case: one physical line, no copy
			lines = append(lines, logicalLine{line: n, text: body})
			continue
		}
		if start == 0 {
			start = n
		} else if body != "" && cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(body)
		if !cont {
			lines = append(lines, logicalLine{line: start, text: cur.String()})
			cur.Reset()
			start = 0
		}
	}
	if start != 0 { // the file ends with a backslash
		lines = append(lines, logicalLine{line: start, text: cur.String()})
	}
	return lines
}

// token is one field of a logical line. Quotes group blanks into a value and
// are removed; a '=' outside quotes splits KEY=value.
type token struct {
	text   string // the whole field without its quotes
	key    string // before the first unquoted '=', when hasEq
	value  string // after it
	hasEq  bool
	quoted bool
}

var errUnterminated = errors.New("unterminated quoted value")

// tokenize splits a logical line into fields, appended to toks[:0]. A field
// that starts with '#' starts a trailing comment, which runs to the end of
// the line.
func tokenize(s string, toks []token) ([]token, error) {
	toks = toks[:0]
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || s[i] == '#' {
			return toks, nil
		}
		// Fast path: a field without quotes is a slice of s.
		j := i
		for j < len(s) && !isSpace(s[j]) && s[j] != '"' {
			j++
		}
		if j == len(s) || isSpace(s[j]) {
			t := token{text: s[i:j]}
			t.key, t.value, t.hasEq = strings.Cut(t.text, "=")
			if !t.hasEq {
				t.key = ""
			}
			toks = append(toks, t)
			i = j
			continue
		}
		var (
			t       token
			b       strings.Builder
			inQuote bool
			eq      = -1 // index in b of the first unquoted '='
		)
		for ; i < len(s) && (inQuote || !isSpace(s[i])); i++ {
			switch c := s[i]; {
			case c == '"':
				inQuote = !inQuote
				t.quoted = true
			case c == '=' && !inQuote && eq < 0 && !t.quoted:
				eq = b.Len()
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
		if inQuote {
			return toks, errUnterminated
		}
		t.text = b.String()
		if eq >= 0 {
			t.hasEq = true
			t.key, t.value = t.text[:eq], t.text[eq+1:]
		}
		toks = append(toks, t)
	}
}

// needsQuotes reports whether s must be quoted to read back as one field
// with the same text. Positional fields must also hide a '=' so that they
// do not read back as KEY=value.
func needsQuotes(s string, positional bool) bool {
	if s == "" || s[0] == '#' || s[len(s)-1] == '\\' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) || (positional && s[i] == '=') {
			return true
		}
	}
	return false
}

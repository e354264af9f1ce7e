package wire

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
)

// Minor codes used by this package. FlexLM's minor numbers are undocumented
// internal location codes; lmtriad reserves 900-999 for the wire layer, other
// packages pick their own outside that range.
const (
	MinorBadLine       = 901 // the line did not parse (a *ProtocolError)
	MinorLineTooLong   = 902 // the line was longer than the reader's limit
	MinorBadProto      = 903 // HELLO without proto= or with an unsupported one
	MinorUnknownVerb   = 904 // a verb the server does not implement (with CodeNoServSupp)
	MinorBadArg        = 905 // a missing or malformed argument (an *ArgError)
	MinorBadReply      = 906 // a reply that is neither OK nor a well-formed ERR
	MinorTooManyErrors = 907 // too many bad lines in a row; the server closes the connection
	MinorInternal      = 908 // the handler failed (panicked); the server closes the connection
	MinorNotHello      = 909 // the first message of a connection was not HELLO
)

// Error is a FlexLM error: the lm_errno Code (negative), the Minor location
// code, the exact FlexLM Text for the code and an optional Detail.
//
// Detail is what FlexLM prints after the colon that follows the minor code,
// normally the system errno and its text, `111 "Connection refused"` (see
// [SysDetail]); lmtriad also puts a short free-form explanation there, for
// example `client proto=2, server proto=1`. Error() lays the parts out as
// FlexLM does:
//
//	Licensed number of users already reached. (-4,342)
//	Cannot connect to license server system. (-15,570:111 "Connection refused")
//
// On the wire an Error is the line
//
//	ERR code=-15 minor=570 text="Cannot connect to license server system." detail="111 \"Connection refused\""
type Error struct {
	Code   int
	Minor  int
	Text   string
	Detail string
}

// NewError returns an Error with the code, the minor code and the exact text
// for the code (see [Text]).
func NewError(code int, minor int) *Error {
	return &Error{Code: code, Minor: minor, Text: Text(code)}
}

// WithDetail returns a copy of e with Detail set to detail.
func (e *Error) WithDetail(detail string) *Error {
	c := *e
	c.Detail = detail
	return &c
}

func (e *Error) Error() string {
	var b strings.Builder
	text := e.Text
	if text == "" {
		text = Text(e.Code)
	}
	b.Grow(len(text) + len(e.Detail) + 16)
	b.WriteString(text)
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Code))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(e.Minor))
	if e.Detail != "" {
		b.WriteByte(':')
		b.WriteString(e.Detail)
	}
	b.WriteByte(')')
	return b.String()
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, wire.ErrMaxUsers) holds for any -4 error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// Message returns the ERR line for e. An empty Text is filled from the table.
func (e *Error) Message() Message {
	text := e.Text
	if text == "" {
		text = Text(e.Code)
	}
	m := Message{Verb: VerbErr, Args: make([]Arg, 3, 4)}
	m.Args[0] = Arg{"code", strconv.Itoa(e.Code)}
	m.Args[1] = Arg{"minor", strconv.Itoa(e.Minor)}
	m.Args[2] = Arg{"text", text}
	if e.Detail != "" {
		m.Args = append(m.Args, Arg{"detail", e.Detail})
	}
	return m
}

// ErrorFromMessage returns the error carried by a reply: nil for an OK, the
// *Error of an ERR line, and a CodeBadComm/MinorBadReply *Error for anything
// else (a reply that is neither, or an ERR without a valid code=). Extra
// arguments of the ERR line (such as master=) stay in m for the caller.
func ErrorFromMessage(m Message) *Error {
	switch m.Verb {
	case VerbOK:
		return nil
	case VerbErr:
		code, err := m.Int("code")
		if err != nil || code >= 0 {
			return NewError(CodeBadComm, MinorBadReply).WithDetail("ERR reply without a valid negative code=")
		}
		minor, _ := m.Int("minor")
		text, ok := m.Lookup("text")
		if !ok {
			text = Text(code)
		}
		return &Error{Code: code, Minor: minor, Text: text, Detail: m.Get("detail")}
	}
	verb := m.Verb
	if len(verb) > 32 {
		verb = verb[:32]
	}
	return NewError(CodeBadComm, MinorBadReply).WithDetail("unexpected reply " + strconv.Quote(verb))
}

// Text returns FlexLM's exact text for code, or "Unknown error code." for a
// code missing from the table.
func Text(code int) string {
	if t, ok := codeTable[code]; ok {
		return t.text
	}
	return "Unknown error code."
}

// Symbol returns the lmerrors.h name of code, such as "LM_MAXUSERS", or "" if
// the code is not in the table.
func Symbol(code int) string {
	return codeTable[code].symbol
}

// SysDetail returns the Detail FlexLM shows for a system error: the errno and
// its text, such as `111 "Connection refused"`, when err wraps a
// syscall.Errno, else the quoted error text. It returns "" for a nil err.
func SysDetail(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" && 'a' <= s[0] && s[0] <= 'z' {
			s = string(s[0]-'a'+'A') + s[1:] // strerror style: "Connection refused"
		}
		return strconv.FormatUint(uint64(errno), 10) + " " + strconv.Quote(s)
	}
	return strconv.Quote(err.Error())
}

// ToError converts any error met while serving a request into the *Error
// to send back: an *Error as is, a *ProtocolError or ErrLineTooLong as
// CodeBadComm with MinorBadLine or MinorLineTooLong, an *ArgError as
// CodeBadComm/MinorBadArg; anything else as CodeBadComm/MinorInternal. The
// cause is kept in Detail. It returns nil for a nil err.
func ToError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *ProtocolError
	var ae *ArgError
	switch {
	case errors.As(err, &pe):
		return NewError(CodeBadComm, MinorBadLine).WithDetail(strings.TrimPrefix(pe.Error(), "wire: "))
	case errors.Is(err, ErrLineTooLong):
		return NewError(CodeBadComm, MinorLineTooLong).WithDetail("line too long")
	case errors.As(err, &ae):
		return NewError(CodeBadComm, MinorBadArg).WithDetail(strings.TrimPrefix(ae.Error(), "wire: "))
	}
	return NewError(CodeBadComm, MinorInternal).WithDetail(err.Error())
}

// ErrorReply is ToError(err).Message(): the ERR line answering err.
func ErrorReply(err error) Message {
	if err == nil {
		err = errors.New("unknown error")
	}
	return ToError(err).Message()
}

// OK returns a success reply with the given key, value pairs.
func OK(kv ...string) Message {
	return New(VerbOK, kv...)
}

// IsOK reports whether m is a success reply.
func IsOK(m Message) bool {
	return m.Verb == VerbOK
}

// Package wire implements the line-based text protocol spoken by every
// lmtriad program: lmgrd, the vendor daemons, lmutil, the client library and
// the triad peers.
//
// A message is one line of UTF-8 text ending in "\n" ("\r\n" is accepted):
//
//	VERB key=value key="quoted value" ...
//
// The verb is an upper-case word ([A-Z][A-Z0-9_]*), keys are lower-case words
// ([a-z][a-z0-9_]*), and a value is either a bare token (no blank, no '"', no
// control character; '=' and '\' are literal) or a double-quoted string with
// the escapes \" \\ \n \r \t and \xHH, so that a value can never break the
// line. Writers quote only when needed and always write an empty value as
// key="". The full grammar, the greeting and every verb the system uses are
// in docs/protocol.md.
//
// The package follows the shape of net/textproto: [ParseMessage] is a pure
// function behind every read, a [Reader] reads capped lines from a
// bufio.Reader, and a [Writer] writes and flushes one message (or one group of
// messages) per call. On top of those sit [Conn], a client connection that
// runs request/reply calls, and [Serve], the per-connection server loop.
//
// Failures travel as ERR lines and surface in Go as [*Error], which carries a
// FlexLM error code, a minor (location) code, the exact FlexLM text and an
// optional detail, and formats like FlexLM does:
//
//	Licensed number of users already reached. (-4,342)
//
// Malformed input is a [*ProtocolError] (what is wrong and at which byte
// column); a server answers it with code -12 ([CodeBadComm]).
package wire

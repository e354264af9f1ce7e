// Package flexlog writes logrus entries as FlexLM debug-log lines:
//
//	 8:49:38 (lmgrd) Starting vendor daemons ...
//	14:46:39 (demo) OUT: "solver" alice@ws1
//	14:46:40 (demo) DENIED: "solver" bob@ws2  (Licensed number of users already reached. (-4,342))
//
// Log parsers in the field match these lines, so the layout lives here, in
// one formatter, and call sites log a constant message with fields.
package flexlog

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Field names with a meaning to the formatter.
const (
	FieldDaemon  = "daemon"  // overrides Formatter.Daemon for one line
	FieldEvent   = "event"   // OUT, IN, DENIED, UNSUPPORTED, QUEUED, DEQUEUED: usage lines
	FieldFeature = "feature" // usage lines: the feature name
	FieldUser    = "user"    // usage lines: user name
	FieldHost    = "host"    // usage lines: client host
	FieldCount   = "count"   // usage lines: licenses, shown when > 1
	FieldReason  = "reason"  // DENIED/UNSUPPORTED: the FlexLM error text with its code
)

// Usage events, as FlexLM spells them.
const (
	EventOut         = "OUT"
	EventIn          = "IN"
	EventDenied      = "DENIED"
	EventUnsupported = "UNSUPPORTED"
	EventQueued      = "QUEUED"
	EventDequeued    = "DEQUEUED"
)

// Formatter renders entries as `HH:MM:SS (daemon) message`. The hour is
// space-padded to two columns, as FlexLM does.
type Formatter struct {
	Daemon string
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Format implements logrus.Formatter.
func (f *Formatter) Format(e *logrus.Entry) ([]byte, error) {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	defer bufPool.Put(b)

	daemon := f.Daemon
	if d, ok := e.Data[FieldDaemon].(string); ok && d != "" {
		daemon = d
	}
	t := e.Time
	fmt.Fprintf(b, "%2d:%02d:%02d (%s) ", t.Hour(), t.Minute(), t.Second(), daemon)

	if ev, ok := e.Data[FieldEvent].(string); ok && ev != "" {
		writeUsage(b, ev, e.Data)
	} else {
		b.WriteString(e.Message)
		writeFields(b, e.Data)
	}
	line := escapeControls(b.Bytes())
	return append(line, '\n'), nil
}

// escapeControls returns a copy of line with every control byte (and DEL)
// written as \xNN: a broken license file or a hostile client name must not
// reach the terminal or split the log into forged lines.
func escapeControls(line []byte) []byte {
	clean := true
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return append(make([]byte, 0, len(line)+1), line...)
	}
	out := make([]byte, 0, len(line)+16)
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			out = append(out, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		out = append(out, c)
	}
	return out
}

const hexDigits = "0123456789abcdef"

func writeUsage(b *bytes.Buffer, event string, data logrus.Fields) {
	fmt.Fprintf(b, "%s: %q %v@%v", event, fmt.Sprint(data[FieldFeature]), data[FieldUser], data[FieldHost])
	if n, ok := data[FieldCount].(int); ok && n > 1 {
		fmt.Fprintf(b, " (%d licenses)", n)
	}
	if r, ok := data[FieldReason]; ok {
		fmt.Fprintf(b, "  (%v)", r)
	}
}

var usageFields = map[string]bool{FieldDaemon: true, FieldEvent: true}

// writeFields ends a plain line with its fields in words, not as a
// library's key=value fragments: an error as ": <error>", the others as
// " (key: value, ...)" with underscores read as blanks, keys sorted.
func writeFields(b *bytes.Buffer, data logrus.Fields) {
	if err, ok := data[logrus.ErrorKey]; ok {
		b.WriteString(": ")
		b.WriteString(fmt.Sprint(err))
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		if !usageFields[k] && k != logrus.ErrorKey {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	sort.Strings(keys)
	b.WriteString(" (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strings.ReplaceAll(k, "_", " "))
		b.WriteString(": ")
		b.WriteString(fmt.Sprint(data[k]))
	}
	b.WriteByte(')')
}

// New returns a logger that writes FlexLM lines for daemon to w.
func New(w io.Writer, daemon string) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(&Formatter{Daemon: daemon})
	l.SetLevel(logrus.InfoLevel)
	return l
}

package flexlog

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormat(t *testing.T) {
	morning := time.Date(2026, 11, 23, 8, 49, 38, 0, time.Local)
	evening := time.Date(2026, 11, 23, 21, 53, 14, 0, time.Local)
	tests := []struct {
		name string
		time time.Time
		msg  string
		data logrus.Fields
		want string
	}{
		{"hour space padded", morning, "Starting vendor daemons ...", nil,
			" 8:49:38 (lmgrd) Starting vendor daemons ...\n"},
		{"two digit hour", evening, "lmgrd tcp-port 27000", nil,
			"21:53:14 (lmgrd) lmgrd tcp-port 27000\n"},
		{"daemon field", evening, "License server system started on h1", logrus.Fields{FieldDaemon: "demo"},
			"21:53:14 (demo) License server system started on h1\n"},
		{"out", evening, "checkout", logrus.Fields{FieldDaemon: "demo", FieldEvent: EventOut, FieldFeature: "solver", FieldUser: "alice", FieldHost: "ws1", FieldCount: 1},
			"21:53:14 (demo) OUT: \"solver\" alice@ws1\n"},
		{"in with count", evening, "checkin", logrus.Fields{FieldDaemon: "demo", FieldEvent: EventIn, FieldFeature: "solver", FieldUser: "alice", FieldHost: "ws1", FieldCount: 3},
			"21:53:14 (demo) IN: \"solver\" alice@ws1 (3 licenses)\n"},
		{"denied", evening, "denied", logrus.Fields{FieldDaemon: "demo", FieldEvent: EventDenied, FieldFeature: "solver", FieldUser: "bob", FieldHost: "ws2", FieldReason: "Licensed number of users already reached. (-4,342)"},
			"21:53:14 (demo) DENIED: \"solver\" bob@ws2  (Licensed number of users already reached. (-4,342))\n"},
		{"other fields sorted", evening, "Restarting vendor daemon", logrus.Fields{"vendor": "demo", "after": "1s"},
			"21:53:14 (lmgrd) Restarting vendor daemon (after: 1s, vendor: demo)\n"},
		{"quoted field", evening, "Bad file", logrus.Fields{"error": "a b"},
			"21:53:14 (lmgrd) Bad file: a b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &logrus.Entry{Time: tt.time, Message: tt.msg, Data: tt.data}
			if e.Data == nil {
				e.Data = logrus.Fields{}
			}
			got, err := (&Formatter{Daemon: "lmgrd"}).Format(e)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestNewWritesThroughFormatter(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "demo").Info("hello")
	assert.Regexp(t, `^[ \d]\d:\d\d:\d\d \(demo\) hello\n$`, buf.String())
}

// lockedBuffer lets the test read while the flusher writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestBufferedWriterFlushesPeriodicallyAndOnClose(t *testing.T) {
	var out lockedBuffer
	b := NewBufferedWriter(&out, 10*time.Millisecond)
	_, err := b.Write([]byte("one\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return out.String() == "one\n" }, 5*time.Second, time.Millisecond)

	slow := NewBufferedWriter(&out, time.Hour)
	_, err = slow.Write([]byte("two\n"))
	require.NoError(t, err)
	assert.Equal(t, "one\n", out.String(), "held until the interval or Close")
	require.NoError(t, slow.Close())
	require.NoError(t, b.Close())
	assert.Equal(t, "one\ntwo\n", out.String())
}

func TestControlCharactersAreEscaped(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "demo")
	log.WithFields(logrus.Fields{FieldEvent: EventOut, FieldFeature: "solver", FieldUser: "eve\n12:00:00 (lmgrd) forged", FieldHost: "h\x1b[31m"}).Info("usage")
	log.Info("bad byte \x00 and tab\there\x7f")
	out := buf.String()
	assert.Equal(t, 2, strings.Count(out, "\n"), "one line per entry: %q", out)
	assert.Contains(t, out, `OUT: "solver" eve\x0a12:00:00 (lmgrd) forged@h\x1b[31m`)
	assert.Contains(t, out, `bad byte \x00 and tab\x09here\x7f`)
}

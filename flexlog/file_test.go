package flexlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileReopensAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lmgrd.log")
	l, err := OpenFile(path, true)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Write([]byte("first\n"))
	require.NoError(t, err)

	// logrotate "create": rename, then SIGHUP makes the daemon reopen.
	require.NoError(t, os.Rename(path, path+".1"))
	_, err = l.Write([]byte("still old\n"))
	require.NoError(t, err)
	require.NoError(t, l.Reopen())
	_, err = l.Write([]byte("new\n"))
	require.NoError(t, err)
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	assert.Equal(t, "first\nstill old\n", string(old))
	assert.Equal(t, "new\n", string(cur))

	// logrotate "copytruncate": the file is truncated under the writer;
	// O_APPEND means no hole of zeros before the next line.
	require.NoError(t, os.Truncate(path, 0))
	_, err = l.Write([]byte("after truncate\n"))
	require.NoError(t, err)
	cur, _ = os.ReadFile(path)
	assert.Equal(t, "after truncate\n", string(cur))
}

func TestLineWriterPassesWholeLines(t *testing.T) {
	var writes []string
	w := writerFunc(func(p []byte) (int, error) { writes = append(writes, string(p)); return len(p), nil })
	lw := &LineWriter{W: w}
	for _, piece := range []string{"10:00:00 (demo) OU", "T: \"f\" a@b\n10:00:01 (demo) IN", ": \"f\" a@b\n", "x\ny\n"} {
		_, err := lw.Write([]byte(piece))
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"10:00:00 (demo) OUT: \"f\" a@b\n", "10:00:01 (demo) IN: \"f\" a@b\n", "x\n", "y\n"}, writes)

	var big bytes.Buffer
	lw = &LineWriter{W: &big}
	_, _ = lw.Write(bytes.Repeat([]byte("z"), maxPending+1))
	assert.Equal(t, maxPending+2, big.Len(), "an endless line is cut, not kept forever")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

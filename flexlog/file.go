package flexlog

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// File is a debug log file that can be reopened under its name: after
// logrotate renamed it (create), SIGHUP makes the daemon write to a new
// file of that name. It is always written with O_APPEND, so a copytruncate
// rotation leaves no hole of zeros, and lines of several writers never
// overwrite one another.
type File struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenFile opens path for a debug log; truncate starts it empty (lmgrd -l
// path), otherwise lines are appended (-l +path).
func OpenFile(path string, truncate bool) (*File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if truncate {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

// Write writes p in one write(2).
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the log's path again (creating it if it was renamed) and
// closes the old file. On failure the old file stays in use.
func (l *File) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Path is the log's file name.
func (l *File) Path() string { return l.path }

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// LineWriter passes whole lines to W: a child process's output read from a
// pipe in arbitrary pieces goes into a shared log without splitting a line
// of another writer. A piece without a newline waits for the rest (up to
// maxPending bytes). Not safe for concurrent use (os/exec calls it from one
// goroutine when Stdout and Stderr are the same LineWriter).
type LineWriter struct {
	W       io.Writer
	pending []byte
}

const maxPending = 64 << 10

func (lw *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lw.pending = append(lw.pending, p...)
			if len(lw.pending) >= maxPending {
				_, err := lw.W.Write(append(lw.pending, '\n'))
				lw.pending = lw.pending[:0]
				if err != nil {
					return n, err
				}
			}
			return n, nil
		}
		line := p[:i+1]
		p = p[i+1:]
		var err error
		if len(lw.pending) > 0 {
			_, err = lw.W.Write(append(lw.pending, line...))
			lw.pending = lw.pending[:0]
		} else {
			_, err = lw.W.Write(line)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

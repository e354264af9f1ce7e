package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/wire"
)

// acceptLoop takes the connections on lmgrd's port, each to its own route.
// lmgrd holds a connection only until it hands it over, and holds at most
// routeBudget of them at once: the rest wait in the listen backlog, so that
// a flood of connects never takes the descriptors lmgrd needs for its own
// work (license files, vendor daemons' channels, its triad peers).
func (s *server) acceptLoop() {
	budget := routeBudget(fileLimit())
	slots := make(chan struct{}, budget)
	var (
		pause          time.Duration
		failures, full flexlog.Throttle
	)
	for {
		select {
		case slots <- struct{}{}:
		default:
			if ok, more := full.Allow(time.Now(), acceptLogEvery); ok {
				s.log.WithField("times_since_last_warning", more).Warnf(
					"%d connections are being handed over at once; new connections wait", budget)
			}
			select {
			case slots <- struct{}{}:
			case <-s.ctx.Done():
				return
			}
		}
		c, err := s.ln.Accept()
		if err != nil {
			<-slots
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (EMFILE, ENFILE) or the like: nothing is
			// lost, the connection waits in the listen backlog. Try again
			// after a short pause, growing while accepts keep failing.
			if ok, more := failures.Allow(time.Now(), acceptLogEvery); ok {
				s.log.WithError(err).WithField("failures_since_last_warning", more).Warn("Accept failed")
			}
			pause = min(max(2*pause, acceptPauseMin), acceptPauseMax)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-slots }()
			s.route(c)
		}()
	}
}

// The accept loop's pauses after a failure, doubling from min to max, and
// how often it warns of failures or of a full budget.
const (
	acceptPauseMin = 5 * time.Millisecond
	acceptPauseMax = 50 * time.Millisecond
	acceptLogEvery = 5 * time.Second
)

// descriptorsKept are the descriptors lmgrd keeps out of the routes' reach:
// stdio, its log, the listener, the poller, the license watch, each vendor
// daemon's channel and output, the triad's log and peer links, files read at
// a reread, and connections it dials.
const descriptorsKept = 64

// routeBudget is how many connections lmgrd may hold at once, being routed,
// within limit descriptors.
func routeBudget(limit uint64) int {
	b := int64(min(limit, 1<<40)) - descriptorsKept
	return int(max(min(b, 1<<20), 8))
}

// fileLimit is the descriptor limit in force (the Go runtime raised the
// soft limit to the hard one at start).
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	return rl.Cur
}

// route reads a connection's greeting and hands the connection to the
// vendor daemon it names, or serves it here when it is an admin's or a peer's.
func (s *server) route(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(s.opts.GreetingTimeout))
	line, err := readGreeting(c)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("greeting not completed within %v", s.opts.GreetingTimeout)
		}
		s.reject(c, wire.NewError(wire.CodeBadComm, 10).WithDetail(err.Error()))
		return
	}
	hello, err := wire.ParseMessage(line)
	if err != nil || hello.Verb != "HELLO" {
		s.reject(c, wire.NewError(wire.CodeBadComm, 11))
		return
	}
	if err := wire.CheckProto(hello); err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			we = wire.NewError(wire.CodeBadComm, 12)
		}
		s.reject(c, we)
		return
	}
	password := hostid.AccessAnonymous // the level of the password proved, if any
	if hello.Get("role") == "admin" && hello.Has("auth") {
		var ok bool
		if line, hello, password, ok = s.authenticate(c, hello); !ok {
			return
		}
	}
	vendor := hello.Get("vendor")
	if vendor == "" && hello.Get("feature") != "" {
		s.mu.Lock()
		vendor = s.features[hello.Get("feature")]
		s.mu.Unlock()
		if vendor == "" {
			s.reject(c, wire.NewError(wire.CodeNoFeature, 13))
			return
		}
	}
	if hello.Get("role") == "peer" {
		if s.tri == nil {
			s.reject(c, wire.NewError(wire.CodeNotLicAdmin, 33).WithDetail("this server is not a triad member"))
			return
		}
		s.tri.tr.Serve(c, hello)
		return
	}
	if vendor == "" {
		_ = c.SetDeadline(time.Time{})
		s.serveAdmin(c, hello, password)
		return
	}
	s.mu.Lock()
	v := s.vendors[vendor]
	s.mu.Unlock()
	if v == nil {
		s.reject(c, wire.NewError(wire.CodeVendorDown, 14))
		return
	}
	_ = c.SetDeadline(time.Time{})
	sc, ok := c.(syscallConn)
	if !ok {
		s.reject(c, wire.NewError(wire.CodeBadComm, 15))
		return
	}
	if password != hostid.AccessAnonymous {
		err = v.admin(line, password, sc)
	} else {
		err = v.client(line, sc)
	}
	if err != nil {
		var we *wire.Error
		switch {
		case errors.As(err, &we):
		case errors.Is(err, syscall.ETOOMANYREFS), errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
			// Too many sockets on their way to the daemons, or no memory
			// for one more: the daemon is as good as full.
			we = wire.NewError(wire.CodeServerMaxedOut, 16)
		default:
			we = wire.NewError(wire.CodeVendorDown, 16)
		}
		s.reject(c, we)
		return
	}
	c.Close() // the vendor daemon holds its own copy now
}

// reject answers a connection with e, closes it, and logs it with the
// peer's address: at most one line per rejectLogEvery, counting the
// refusals held back, so that a flood of bad or slow connects cannot fill
// the log.
func (s *server) reject(c net.Conn, e *wire.Error) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_ = wire.NewWriter(c).WriteMessage(e.Message())
	c.Close()
	if ok, more := s.rejections.Allow(time.Now(), rejectLogEvery); ok {
		peer := ""
		if a := c.RemoteAddr(); a != nil {
			peer = a.String()
		}
		s.log.WithFields(logrus.Fields{"peer": peer, "refused_since_last_warning": more}).
			Warnf("Refused a connection: %v", e)
	}
}

// rejectLogEvery spaces the warnings of refused connections.
const rejectLogEvery = 5 * time.Second

// lineTimeout is how long one request line of a session lmgrd serves
// itself (an administrator's) may take once its first byte is in: a slow
// sender is cut in seconds, an idle session between lines is not.
const lineTimeout = 5 * time.Second

// readGreeting reads exactly one line and nothing after it: the rest
// belongs to the vendor daemon that gets the socket. It peeks at what has
// arrived, then reads up to the newline, so a greeting costs a few system
// calls rather than one per byte.
func readGreeting(c net.Conn) (string, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return readGreetingBytewise(c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return "", err
	}
	var line []byte
	buf := make([]byte, 4096)
	for len(line) <= wire.MaxLine {
		var n int
		var rerr error
		// Wait until something is there and peek at it.
		err := raw.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return !errors.Is(rerr, syscall.EAGAIN)
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return "", err
		}
		if n == 0 {
			return "", io.EOF
		}
		take := n
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			take = i + 1
		}
		if _, err := io.ReadFull(c, buf[:take]); err != nil {
			return "", err
		}
		line = append(line, buf[:take]...)
		if line[len(line)-1] == '\n' {
			return strings.TrimRight(string(line[:len(line)-1]), "\r"), nil
		}
	}
	return "", wire.ErrLineTooLong
}

// readGreetingBytewise is readGreeting for connections without a socket.
func readGreetingBytewise(c net.Conn) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() <= wire.MaxLine {
		if _, err := c.Read(buf); err != nil {
			return "", err
		}
		if buf[0] == '\n' {
			return strings.TrimRight(b.String(), "\r"), nil
		}
		b.WriteByte(buf[0])
	}
	return "", wire.ErrLineTooLong
}

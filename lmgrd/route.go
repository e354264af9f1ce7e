package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

func (s *server) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.WithError(err).Warn("Accept failed")
			time.Sleep(50 * time.Millisecond) // out of descriptors: let some close
			continue
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.route(c) }()
	}
}

// route reads a connection's greeting and hands the connection to the
// vendor daemon it names, or serves it here when it is an admin's or a peer's.
func (s *server) route(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(s.opts.GreetingTimeout))
	line, err := readGreeting(c)
	if err != nil {
		s.reject(c, wire.NewError(wire.CodeBadComm, 10))
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
		s.serveAdmin(c, hello)
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
	if err := v.client(line, sc); err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			we = wire.NewError(wire.CodeVendorDown, 16)
		}
		s.reject(c, we)
		return
	}
	c.Close() // the vendor daemon holds its own copy now
}

func (s *server) reject(c net.Conn, e *wire.Error) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_ = wire.NewWriter(c).WriteMessage(e.Message())
	c.Close()
}

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

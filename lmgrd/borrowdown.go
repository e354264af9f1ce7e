package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

// statusQueryTimeout bounds lmgrd's STATUS question to one vendor daemon.
const statusQueryTimeout = 5 * time.Second

// borrowed is how many licenses are borrowed of vendor ("": of every
// vendor): lmdown without -force refuses while any is (FlexLM's -120). A
// triad member reads its committed license tables, the same on every
// member whether its vendor daemons serve or not. A lone lmgrd asks its
// running vendor daemons as an administrator's client would, STATUS over
// a connection it hands each as it hands clients'; a daemon that is down
// or does not answer counts none (it serves nothing to stop).
func (s *server) borrowed(vendor string) int {
	if s.isTriad() {
		if tables := s.tri.shown.Load(); tables != nil {
			return tables.Borrowed(vendor)
		}
		return 0
	}
	s.mu.Lock()
	var vs []*vendorProc
	for name, v := range s.vendors {
		if vendor == "" || name == vendor {
			vs = append(vs, v)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, v := range vs {
		k, err := s.askBorrowed(v)
		if err != nil {
			s.log.WithError(err).Debugf("No borrowed count from vendor daemon %s", v.line.Name)
			continue
		}
		n += k
	}
	return n
}

func (s *server) askBorrowed(v *vendorProc) (int, error) {
	resp, _, err := s.vendorStatus(v)
	if err != nil || resp.Verb == "" {
		return 0, err
	}
	return strconv.Atoi(resp.Get("borrowed"))
}

// vendorStatus asks vendor daemon v for its STATUS of every feature, as
// an administrator's client would, over a connection lmgrd hands it as it
// hands clients' (lmdown's borrowed count, /metrics, /api/v1/status). A
// daemon that is down answers nothing (a zero Message, no error).
func (s *server) vendorStatus(v *vendorProc) (wire.Message, []wire.Message, error) {
	if up, _ := v.up(); !up {
		return wire.Message{}, nil, nil
	}
	mine, theirs, err := socketPair()
	if err != nil {
		return wire.Message{}, nil, err
	}
	defer mine.Close()
	greeting := wire.New("HELLO", "proto", strconv.Itoa(wire.ProtocolVersion), "user", "lmgrd", "host", s.host, "role", "admin")
	err = v.client(greeting.String(), theirs)
	theirs.Close() // the daemon has its own copy
	if err != nil {
		return wire.Message{}, nil, err
	}
	_ = mine.SetDeadline(time.Now().Add(statusQueryTimeout))
	c := wire.NewConn(mine)
	if _, err := c.Receive(); err != nil {
		return wire.Message{}, nil, fmt.Errorf("greeting: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, statusQueryTimeout)
	defer cancel()
	// All features: a feature= the daemon does not serve may be refused
	// (-5), and borrowed= counts every feature anyway.
	return c.Call(ctx, wire.New("STATUS"))
}

// socketPair is a connected pair of Unix sockets, whose second end can be
// handed to a vendor daemon.
func socketPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var cs [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "lmgrd-borrow-query")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 1 {
				cs[0].Close()
			}
			if i == 0 {
				syscall.Close(fds[1])
			}
			return nil, nil, err
		}
		cs[i] = c.(*net.UnixConn)
	}
	return cs[0], cs[1], nil
}

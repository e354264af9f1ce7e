// Package handoff carries messages, each optionally with an open socket,
// between lmgrd and a vendor daemon over a SOCK_SEQPACKET socket pair.
//
// Clients and admins reach everything through lmgrd's one port: lmgrd reads
// a client's greeting, then hands the socket itself to the vendor daemon,
// which serves it from then on without lmgrd in the data path. SEQPACKET
// keeps message boundaries, so a message and its file descriptor arrive
// together or not at all.
package handoff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxMessage is the largest message a Channel carries.
const MaxMessage = 128 * 1024

// Channel is one end of a handoff socket pair.
type Channel struct {
	conn *net.UnixConn
	buf  []byte // Recv's buffers, reused: one receiver per channel
	oob  []byte
}

// Pair returns lmgrd's end of a new channel and the child's end as a file
// to pass to the child process (exec.Cmd.ExtraFiles).
func Pair() (*Channel, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("handoff: socketpair: %w", err)
	}
	parentFile := os.NewFile(uintptr(fds[0]), "handoff-parent")
	childFile := os.NewFile(uintptr(fds[1]), "handoff-child")
	ch, err := FromFile(parentFile)
	parentFile.Close()
	if err != nil {
		childFile.Close()
		return nil, nil, err
	}
	return ch, childFile, nil
}

// FromFile wraps an inherited end of a channel. f may be closed afterwards.
func FromFile(f *os.File) (*Channel, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("handoff: %s: %w", f.Name(), err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("handoff: %s is not a unix socket", f.Name())
	}
	return &Channel{conn: uc}, nil
}

// Send sends msg, and with it the socket of conn when conn is not nil. The
// caller still owns conn and closes its own copy once Send returns.
func (ch *Channel) Send(msg []byte, conn syscall.Conn) error {
	if len(msg) > MaxMessage {
		return fmt.Errorf("handoff: message of %d bytes exceeds %d", len(msg), MaxMessage)
	}
	var oob []byte
	if conn != nil {
		raw, err := conn.SyscallConn()
		if err != nil {
			return fmt.Errorf("handoff: %w", err)
		}
		if err := raw.Control(func(fd uintptr) { oob = syscall.UnixRights(int(fd)) }); err != nil {
			return fmt.Errorf("handoff: %w", err)
		}
		if len(msg) == 0 {
			msg = []byte{'\n'} // an fd must travel with at least one byte
		}
	}
	if _, _, err := ch.conn.WriteMsgUnix(msg, oob, nil); err != nil {
		return fmt.Errorf("handoff: send: %w", err)
	}
	return nil
}

// Recv waits for the next message. conn is the socket that came with it,
// or nil. Once the peer has closed its end, Recv returns ErrPeerClosed.
// Recv is not safe for concurrent use.
func (ch *Channel) Recv() (msg []byte, conn net.Conn, err error) {
	if ch.buf == nil {
		ch.buf, ch.oob = make([]byte, MaxMessage), make([]byte, syscall.CmsgSpace(4))
	}
	buf, oob := ch.buf, ch.oob
	n, oobn, flags, _, err := ch.conn.ReadMsgUnix(buf, oob)
	if errors.Is(err, io.EOF) {
		return nil, nil, ErrPeerClosed
	}
	if err != nil {
		return nil, nil, fmt.Errorf("handoff: recv: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil, ErrPeerClosed
	}
	if flags&syscall.MSG_TRUNC != 0 || flags&syscall.MSG_CTRUNC != 0 {
		closeRights(oob[:oobn])
		return nil, nil, errors.New("handoff: message truncated")
	}
	msg = append([]byte(nil), buf[:n]...)
	if oobn > 0 {
		f, err := fileFromRights(oob[:oobn])
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		conn, err = net.FileConn(f)
		if err != nil {
			return nil, nil, fmt.Errorf("handoff: received socket: %w", err)
		}
	}
	return msg, conn, nil
}

// ErrPeerClosed is returned by Recv once the other end has closed.
var ErrPeerClosed = errors.New("handoff: peer closed")

// Close closes this end; the peer's Recv then returns ErrPeerClosed.
func (ch *Channel) Close() error { return ch.conn.Close() }

func fileFromRights(oob []byte) (*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("handoff: control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "handed-off"))
		}
	}
	if len(files) == 0 {
		return nil, errors.New("handoff: control message without a socket")
	}
	for _, extra := range files[1:] {
		extra.Close()
	}
	return files[0], nil
}

func closeRights(oob []byte) {
	if f, err := fileFromRights(oob); err == nil {
		f.Close()
	}
}

// BootTimeNow is CLOCK_BOOTTIME in nanoseconds: a monotonic clock that
// keeps counting while the machine is suspended, and the same clock in
// every process of the machine. Leases are measured on it: lmgrd hands a
// vendor daemon a deadline that the daemon checks itself, and a master
// whose machine was suspended finds its lease run out on resuming, as its
// peers assumed, rather than serving on beside their new master.
func BootTimeNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

package wire

import (
	"context"
	"net"
	"time"
)

// Dial connects to addr with d and sends hello, the greeting every
// connection starts with. It returns the connection and the greeting's
// reply; an ERR reply is returned with its *Error, the connection closed.
// The dial and the greeting together are bounded by timeout. The
// connection has no deadline when Dial returns.
func Dial(ctx context.Context, d *net.Dialer, addr string, hello Message, timeout time.Duration) (*Conn, Message, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, Message{}, NewError(CodeCantConnect, 570).WithDetail(SysDetail(err))
	}
	c := NewConn(nc)
	reply, _, err := c.Call(ctx, hello)
	if err != nil {
		c.Close()
		return nil, reply, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, reply, nil
}

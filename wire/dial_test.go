package wire

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestDialGreetsAndReportsRefusals(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for i := 0; i < 2; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(i int) {
				defer c.Close()
				r, w := NewReader(c), NewWriter(c)
				if _, err := r.ReadMessage(); err != nil {
					return
				}
				if i == 0 {
					w.WriteMessage(OK("server", "x"))
					r.ReadMessage() // hold the connection until the client closes
					return
				}
				w.WriteMessage(NewError(CodeNotLicAdmin, 1).Message())
			}(i)
		}
	}()
	var d net.Dialer
	c, reply, err := Dial(context.Background(), &d, ln.Addr().String(), Hello("role", "admin"), 5*time.Second)
	if err != nil || reply.Get("server") != "x" {
		t.Fatalf("Dial = %v, %v; want the OK reply", reply, err)
	}
	c.Close()
	_, _, err = Dial(context.Background(), &d, ln.Addr().String(), Hello("role", "admin"), 5*time.Second)
	if !errors.Is(err, ErrNotLicAdmin) {
		t.Fatalf("refused greeting: err %v, want -63", err)
	}
	ln.Close()
	_, _, err = Dial(context.Background(), &d, ln.Addr().String(), Hello(), 5*time.Second)
	if !errors.Is(err, ErrCantConnect) {
		t.Fatalf("closed port: err %v, want -15", err)
	}
}

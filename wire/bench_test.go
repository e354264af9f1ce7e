package wire

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

const benchCheckout = "CHECKOUT feature=f1 version=2024.1 count=1 user=alice host=ws042 display=/dev/pts/3 pid=48213 linger=0"

func BenchmarkParseMessage(b *testing.B) {
	b.Run("checkout", func(b *testing.B) { benchParse(b, benchCheckout) })
	b.Run("err_quoted", func(b *testing.B) {
		benchParse(b, `ERR code=-4 minor=342 text="Licensed number of users already reached." master=27100@127.0.0.2`)
	})
	b.Run("escaped", func(b *testing.B) {
		benchParse(b, `POOL feature=f1 version=1.0 vendor_string="say \"hi\"\nbye" hostid=ANY count=10`)
	})
}

func benchParse(b *testing.B, line string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := ParseMessage(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendTo(b *testing.B) {
	m, _ := ParseMessage(benchCheckout)
	q := NewError(CodeMaxUsers, 342).Message()
	for _, bc := range []struct {
		name string
		m    Message
	}{{"checkout", m}, {"err_quoted", q}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = bc.m.AppendTo(buf[:0])
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkReadMessage(b *testing.B) {
	data := strings.Repeat(benchCheckout+"\n", 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchCheckout) + 1))
	sr := strings.NewReader(data)
	br := bufio.NewReader(sr)
	r := NewReader(br)
	for b.Loop() {
		if _, err := r.ReadMessage(); err == io.EOF {
			sr.Reset(data)
			br.Reset(sr)
		} else if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteMessage(b *testing.B) {
	m, _ := ParseMessage(benchCheckout)
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}

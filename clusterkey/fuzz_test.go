package clusterkey

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary file content to parse, the function Load reads
// key files with. It must not panic; what it accepts must be a 32-byte
// secret that makes a Key and survives a write and re-read; and its errors
// must stay short and never quote the content.
func FuzzLoad(f *testing.F) {
	f.Add(format(bytes.Repeat([]byte{0xa5}, SecretSize)))
	f.Add([]byte(""))
	f.Add([]byte("# comment only\n"))
	f.Add([]byte("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		secret, err := parse(data)
		if err != nil {
			if secret != nil {
				t.Errorf("parse returned a secret and the error %v", err)
			}
			msg := err.Error()
			if len(msg) > 120 {
				t.Errorf("error of %d bytes: %q", len(msg), msg)
			}
			for line := range strings.Lines(string(data)) {
				// Key material is hex: a hex line must not show up.
				l := strings.TrimSpace(line)
				if len(l) >= 8 && strings.Trim(l, "0123456789abcdefABCDEF") == "" && strings.Contains(msg, l) {
					t.Errorf("error %q quotes the content %q", msg, l)
				}
			}
			return
		}
		if len(secret) != SecretSize {
			t.Fatalf("secret of %d bytes, want %d", len(secret), SecretSize)
		}
		k, err := FromBytes(secret)
		if err != nil {
			t.Fatalf("FromBytes of a parsed secret: %v", err)
		}
		again, err := parse(format(secret))
		if err != nil || !bytes.Equal(again, secret) {
			t.Fatalf("write and re-read: %x, %v; want %x", again, err, secret)
		}
		if len(k.ID()) != 16 {
			t.Fatalf("ID %q", k.ID())
		}
	})
}

package licsign

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lmtriad/lmtriad/licfile"
)

func line(t *testing.T, text string) licfile.SignedLine {
	t.Helper()
	f, err := licfile.Parse("t.lic", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f.SignedLines()[0]
}

func mustKey(t *testing.T, vendor string) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(vendor)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	demo, other := mustKey(t, "demo"), mustKey(t, "other")
	otherAsDemo := &PublicKey{Vendor: "demo", Key: other.Public().Key}
	text := "FEATURE solver demo 1.0 permanent 5 HOSTID=ANY SIGN=0\n"
	sig, err := Sign(line(t, text), demo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "ed1:") || len(sig) != 4+86 {
		t.Fatalf("signature %q", sig)
	}
	signed := strings.Replace(text, "SIGN=0", "SIGN="+sig, 1)
	tests := []struct {
		name string
		text string
		keys []*PublicKey
		want error
	}{
		{"ok", signed, []*PublicKey{demo.Public()}, nil},
		{"ok among others", signed, []*PublicKey{other.Public(), otherAsDemo, demo.Public()}, nil},
		{"reordered", "feature solver demo 1.0 permanent \\\n  05 sign=" + sig + " hostid=ANY\n", []*PublicKey{demo.Public()}, nil},
		{"count edited", strings.Replace(signed, " 5 ", " 500 ", 1), []*PublicKey{demo.Public()}, ErrBadSignature},
		{"other vendor's key", signed, []*PublicKey{other.Public()}, ErrNoKey},
		{"key of another vendor named demo", signed, []*PublicKey{otherAsDemo}, ErrBadSignature},
		{"SIGN=0", text, []*PublicKey{demo.Public()}, ErrNoSignature},
		{"truncated", strings.Replace(signed, sig, sig[:len(sig)-2], 1), []*PublicKey{demo.Public()}, ErrMalformed},
		{"not base64", strings.Replace(signed, sig, sig[:len(sig)-1]+"!", 1), []*PublicKey{demo.Public()}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(line(t, tt.text), tt.keys)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Sign(line(t, text), other); !errors.Is(err, ErrWrongVendor) {
		t.Errorf("signing with another vendor's key: %v", err)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k := mustKey(t, "demo")
	keyPath, pubPath, err := WriteKeyPair(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	if keyPath != filepath.Join(dir, "demo.key") || pubPath != filepath.Join(dir, "demo.pub") {
		t.Errorf("paths %s %s", keyPath, pubPath)
	}
	if fi, _ := os.Stat(keyPath); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", fi.Mode())
	}
	got, err := LoadPrivateKey(keyPath)
	if err != nil || got.Vendor != "demo" || !got.Key.Equal(k.Key) {
		t.Fatalf("LoadPrivateKey: %v %v", got, err)
	}
	pubs, err := LoadPublicKeys(dir)
	if err != nil || len(pubs) != 1 || pubs[0].Vendor != "demo" || !pubs[0].Key.Equal(k.Public().Key) {
		t.Fatalf("LoadPublicKeys(dir): %v %v", pubs, err)
	}
	if pubs, err := LoadPublicKeys(pubPath); err != nil || len(pubs) != 1 {
		t.Fatalf("LoadPublicKeys(file): %v %v", pubs, err)
	}
	if _, _, err := WriteKeyPair(dir, mustKey(t, "demo")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	if got, _ := LoadPrivateKey(keyPath); got == nil || !got.Key.Equal(k.Key) {
		t.Error("the key was overwritten")
	}
	if runtime.GOOS != "windows" {
		os.Chmod(keyPath, 0o644)
		if _, err := LoadPrivateKey(keyPath); err == nil {
			t.Error("a world-readable private key was accepted")
		}
	}
	if _, err := ParsePublicKey([]byte("lmtriad-vendor-private-key demo AAAA\n")); err == nil {
		t.Error("a private key read as public")
	}
	if _, err := ParsePublicKey([]byte("# comment\nlmtriad-vendor-key demo AAAA\n")); err == nil {
		t.Error("a short key accepted")
	}
	if _, err := GenerateKey("bad vendor"); err == nil {
		t.Error("vendor with a blank accepted")
	}
}

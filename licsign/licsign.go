// Package licsign signs license lines with a vendor's Ed25519 key and checks
// their signatures.
//
// What is signed is the canonical form of a FEATURE, INCREMENT, UPGRADE or
// PACKAGE line (licfile.Feature.Canonical describes it): every field that
// changes what the line grants, however the file writes it. A signature is
// the value of the line's SIGN= attribute:
//
//	SIGN=ed1:BASE64
//
// "ed1:" names the scheme, Ed25519 (RFC 8032) over the canonical bytes;
// BASE64 is the 64-byte signature in unpadded URL-safe base64 (RFC 4648 §5),
// 86 characters, which never needs quotes. Other schemes will get other
// tags; a value without a known tag does not verify.
//
// Key files hold one key each, one line of text:
//
//	lmtriad-vendor-key VENDOR BASE64           VENDOR.pub: the public key, 32 bytes
//	lmtriad-vendor-private-key VENDOR BASE64   VENDOR.key: the private key's 32-byte seed
//
// BASE64 is standard padded base64 (RFC 4648 §4). Blank lines and lines
// starting with '#' are ignored. A private key file must not be readable by
// group or others (mode 0600); LoadPrivateKey refuses it otherwise. A key
// signs and verifies only lines of its own vendor.
package licsign

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/lmtriad/lmtriad/licfile"
)

// Scheme is the tag that starts every signature this package makes.
const Scheme = "ed1:"

const (
	publicTag  = "lmtriad-vendor-key"
	privateTag = "lmtriad-vendor-private-key"
)

// PublicKey is a vendor's public key: it verifies lines of Vendor.
type PublicKey struct {
	Vendor string
	Key    ed25519.PublicKey
}

// PrivateKey is a vendor's private key: it signs lines of Vendor.
type PrivateKey struct {
	Vendor string
	Key    ed25519.PrivateKey
}

// Public returns k's public half.
func (k *PrivateKey) Public() *PublicKey {
	return &PublicKey{Vendor: k.Vendor, Key: k.Key.Public().(ed25519.PublicKey)}
}

// GenerateKey makes a new key pair for vendor.
func GenerateKey(vendor string) (*PrivateKey, error) {
	if !validVendor(vendor) {
		return nil, fmt.Errorf("vendor %q: want a daemon name (letters, digits, '_', '-', '.')", vendor)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{Vendor: vendor, Key: priv}, nil
}

func validVendor(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Errors of Sign and Verify. Verify wraps them with details; test with errors.Is.
var (
	ErrWrongVendor  = errors.New("the key belongs to another vendor")
	ErrNoSignature  = errors.New("no ed1: signature") // SIGN= missing or of another scheme (such as SIGN=0)
	ErrMalformed    = errors.New("malformed ed1: signature")
	ErrNoKey        = errors.New("no public key for the line's vendor")
	ErrBadSignature = errors.New("signature does not match the line")
)

// Sign returns the SIGN= value for line, signed with k. The key must be of
// the line's vendor.
func Sign(line licfile.SignedLine, k *PrivateKey) (string, error) {
	if line.Vendor != k.Vendor {
		return "", fmt.Errorf("%s %s of vendor %s: %w (%s)", line.Keyword, line.Name, line.Vendor, ErrWrongVendor, k.Vendor)
	}
	sig := ed25519.Sign(k.Key, line.Canonical)
	return Scheme + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Verify checks line's signature (line.Sign) against the keys of its vendor
// among keys. It returns nil when one of them verifies it, else an error
// wrapping ErrNoSignature, ErrMalformed, ErrNoKey or ErrBadSignature.
func Verify(line licfile.SignedLine, keys []*PublicKey) error {
	var mine []*PublicKey
	for _, k := range keys {
		if k.Vendor == line.Vendor {
			mine = append(mine, k)
		}
	}
	if len(mine) == 0 {
		return fmt.Errorf("%w %s", ErrNoKey, line.Vendor)
	}
	b64, ok := strings.CutPrefix(line.Sign, Scheme)
	if !ok {
		if line.Sign == "" {
			return ErrNoSignature
		}
		return fmt.Errorf("%w (SIGN=%s)", ErrNoSignature, abbrev(line.Sign))
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return ErrMalformed
	}
	for _, k := range mine {
		if ed25519.Verify(k.Key, line.Canonical, sig) {
			return nil
		}
	}
	return ErrBadSignature
}

func abbrev(s string) string {
	if len(s) > 20 {
		return s[:17] + "..."
	}
	return s
}

// MarshalText returns the text of a public key file.
func (k *PublicKey) MarshalText() ([]byte, error) {
	return []byte(publicTag + " " + k.Vendor + " " + base64.StdEncoding.EncodeToString(k.Key) + "\n"), nil
}

// MarshalText returns the text of a private key file.
func (k *PrivateKey) MarshalText() ([]byte, error) {
	return []byte(privateTag + " " + k.Vendor + " " + base64.StdEncoding.EncodeToString(k.Key.Seed()) + "\n"), nil
}

// parseKeyFile reads the one key line of a key file: tag, vendor and bytes.
func parseKeyFile(data []byte, tag string, size int) (vendor string, key []byte, err error) {
	var fields []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if fields != nil {
			return "", nil, errors.New("more than one key line")
		}
		fields = strings.Fields(line)
	}
	if len(fields) != 3 || fields[0] != tag {
		if len(fields) > 0 && (fields[0] == publicTag || fields[0] == privateTag) && fields[0] != tag {
			return "", nil, fmt.Errorf("a %s, want a %s", fields[0], tag)
		}
		return "", nil, fmt.Errorf("want one line %q", tag+" VENDOR BASE64")
	}
	if !validVendor(fields[1]) {
		return "", nil, fmt.Errorf("vendor %q: want a daemon name", fields[1])
	}
	key, err = base64.StdEncoding.Strict().DecodeString(fields[2])
	if err != nil || len(key) != size {
		return "", nil, fmt.Errorf("want %d bytes in base64", size)
	}
	return fields[1], key, nil
}

// ParsePublicKey reads the text of a public key file.
func ParsePublicKey(data []byte) (*PublicKey, error) {
	vendor, key, err := parseKeyFile(data, publicTag, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return &PublicKey{Vendor: vendor, Key: ed25519.PublicKey(key)}, nil
}

// ParsePrivateKey reads the text of a private key file.
func ParsePrivateKey(data []byte) (*PrivateKey, error) {
	vendor, seed, err := parseKeyFile(data, privateTag, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{Vendor: vendor, Key: ed25519.NewKeyFromSeed(seed)}, nil
}

// LoadPrivateKey reads a private key file, which must not be readable by
// group or others.
func LoadPrivateKey(path string) (*PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o: a private key must not be readable by others (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return k, nil
}

// LoadPublicKeys reads a public key file, or every *.pub file of a directory.
func LoadPublicKeys(path string) ([]*PublicKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	paths := []string{path}
	if fi.IsDir() {
		paths, err = filepath.Glob(filepath.Join(path, "*.pub"))
		if err != nil {
			return nil, err
		}
		sort.Strings(paths)
		if len(paths) == 0 {
			return nil, fmt.Errorf("%s: no *.pub key file: %w", path, fs.ErrNotExist)
		}
	}
	var keys []*PublicKey
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		k, err := ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// WriteKeyPair writes k to dir/VENDOR.key (mode 0600) and its public half to
// dir/VENDOR.pub (mode 0644). It never overwrites a file: when either exists
// it fails and writes nothing.
func WriteKeyPair(dir string, k *PrivateKey) (keyPath, pubPath string, err error) {
	keyPath = filepath.Join(dir, k.Vendor+".key")
	pubPath = filepath.Join(dir, k.Vendor+".pub")
	if _, err := os.Lstat(pubPath); err == nil {
		return "", "", fmt.Errorf("%s already exists", pubPath)
	}
	priv, _ := k.MarshalText()
	pub, _ := k.Public().MarshalText()
	if err := writeExcl(keyPath, priv, 0o600); err != nil {
		return "", "", err
	}
	if err := writeExcl(pubPath, pub, 0o644); err != nil {
		os.Remove(keyPath)
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// writeExcl creates path with data; it fails when path exists.
func writeExcl(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists", path)
		}
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

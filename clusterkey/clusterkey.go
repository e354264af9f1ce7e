// Package clusterkey lets the three members of a triad authenticate each
// other with a shared cluster secret.
//
// The secret (32 random bytes, kept in a mode-0600 file made by
// "lmutil lmkeygen -cluster FILE") never goes on the wire. Each member
// derives from it, with HKDF-SHA256, the same Ed25519 key pair and a
// self-signed certificate for it. Connections between members are TLS 1.3
// with mutual authentication: each side presents that certificate, proves in
// the handshake that it holds the private key, and accepts the peer only when
// the peer's certificate carries exactly the derived public key. Nothing here
// is home-made cryptography: the standard library's crypto/tls does the
// protocol, crypto/hkdf and crypto/ed25519 the derivation.
//
// In TLS 1.3 the client finishes its handshake before the server has checked
// the client's certificate: a client holding the wrong key sees its first
// Read fail (with the server's "bad certificate" alert), not its Handshake.
package clusterkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"runtime"
	"time"
)

// SecretSize is the size in bytes of the secret in a cluster key file.
const SecretSize = 32

// identityInfo is the HKDF info string of the peer identity key.
const identityInfo = "lmtriad peer identity v1"

// maxFileSize bounds what Load reads: a key file is a comment and one line.
const maxFileSize = 4096

// ErrPeerKey is wrapped by the verification error when a peer presents
// another key, so callers can log "wrong cluster key" apart from other
// handshake failures.
var ErrPeerKey = errors.New("peer does not hold this triad's cluster key")

// Key is a loaded cluster secret. Its String, GoString and Format never
// print the secret or anything derived from it but the public ID.
type Key struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	cert tls.Certificate
	id   string
}

// Generate writes a new random cluster key to path: a '#' comment line
// saying what the file is, then the secret in hex on one line. The file is
// created with mode 0600 and never overwritten: when path exists Generate
// fails and names it.
func Generate(path string) error {
	secret := make([]byte, SecretSize)
	if _, err := io.ReadFull(rand.Reader, secret); err != nil {
		return fmt.Errorf("cluster key %s: no random bytes: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: not overwriting it (a cluster key must stay the same on all three lmgrds; remove the file or pick another name)", path)
	}
	if err != nil {
		return fmt.Errorf("cannot create cluster key file: %w", err)
	}
	_, err = f.Write(format(secret))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("cannot write cluster key file %s: %w", path, err)
	}
	return nil
}

// format is the content of a key file holding secret.
func format(secret []byte) []byte {
	return []byte("# lmtriad cluster key: give this same file to all three lmgrds (-cluster-key FILE); keep it secret, mode 0600\n" +
		hex.EncodeToString(secret) + "\n")
}

// Load reads the cluster key file at path. It refuses a missing file, a
// file that group or others may read or write, and malformed content; each
// error names the file and never quotes its content.
func Load(path string) (*Key, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cluster key file %s does not exist: make one with \"lmutil lmkeygen -cluster FILE\" and give the same file to all three lmgrds", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open cluster key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot open cluster key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("cluster key file %s is not a regular file", path)
	}
	// Windows has no group and other permission bits: Go reports 0666 or
	// 0444 for every file there, and access is the ACL's business.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("cluster key file %s may be read or written by group or others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read cluster key file: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("malformed cluster key file %s: larger than %d bytes", path, maxFileSize)
	}
	secret, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("malformed cluster key file %s: %w", path, err)
	}
	return FromBytes(secret)
}

// parse returns the secret in the content of a key file: blank lines and
// lines starting with '#' are skipped, and exactly one line of 64 hex digits
// must remain. Its errors never quote the content.
func parse(data []byte) ([]byte, error) {
	var keyLine []byte
	lineNo, keyLineNo := 0, 0
	for line := range bytes.Lines(data) {
		lineNo++
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if keyLine != nil {
			return nil, fmt.Errorf("line %d: a second key line (the first is line %d); want one line of %d hex digits", lineNo, keyLineNo, 2*SecretSize)
		}
		keyLine, keyLineNo = line, lineNo
	}
	if keyLine == nil {
		return nil, fmt.Errorf("no key line; want one line of %d hex digits", 2*SecretSize)
	}
	if len(keyLine) != 2*SecretSize {
		return nil, fmt.Errorf("line %d: key is %d characters long, want %d hex digits", keyLineNo, len(keyLine), 2*SecretSize)
	}
	secret := make([]byte, SecretSize)
	if _, err := hex.Decode(secret, keyLine); err != nil {
		// hex's error quotes the offending byte: say where, not what.
		return nil, fmt.Errorf("line %d: key is not %d hex digits", keyLineNo, 2*SecretSize)
	}
	return secret, nil
}

// FromBytes builds a Key from a raw secret of at least SecretSize bytes.
// The Key keeps only what it derives from secret, not secret itself.
func FromBytes(secret []byte) (*Key, error) {
	if len(secret) < SecretSize {
		return nil, fmt.Errorf("cluster secret is %d bytes, want at least %d", len(secret), SecretSize)
	}
	seed, err := hkdf.Key(sha256.New, secret, nil, identityInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("deriving the peer identity: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	pub := priv.Public().(ed25519.PublicKey)
	k := &Key{priv: priv, pub: pub, id: keyID(pub)}
	if k.cert, err = certificate(priv, pub); err != nil {
		return nil, err
	}
	return k, nil
}

// keyID is the public fingerprint of an identity key.
func keyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// certificate makes the self-signed certificate a member presents. It is the
// same for the same key: Ed25519 signatures are deterministic, the serial
// comes from the key and the validity is fixed. Peers check the key it
// carries, not its dates or names.
func certificate(priv ed25519.PrivateKey, pub ed25519.PublicKey) (tls.Certificate, error) {
	sum := sha256.Sum256(append([]byte("lmtriad certificate serial\x00"), pub...))
	sum[0] = sum[0]&0x7f | 0x40 // positive, never zero, always 16 bytes
	id := keyID(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sum[:16]),
		Subject:               pkix.Name{CommonName: "lmtriad cluster " + id, Organization: []string{"lmtriad"}},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making the cluster certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making the cluster certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// ID is a short public fingerprint of the key for logs and lmstat: the
// first 8 bytes, in hex, of the SHA-256 of the derived public key.
func (k *Key) ID() string { return k.id }

// Sign signs msg with the triad's key pair (derived from the cluster key,
// so every member holds it): how one member proves to another that a
// request comes from the triad, outside the raft transport. Callers put a
// purpose and a fresh challenge in msg, so a signature is good for one
// request only.
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Verify reports whether sig is Sign's signature of msg by a holder of
// this cluster key.
func (k *Key) Verify(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.pub, msg, sig)
}

// ServerConfig is a TLS 1.3-only server configuration that presents this
// key's certificate, requires a client certificate and accepts only a client
// whose certificate carries this key. Each call returns a new Config.
func (k *Key) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{k.cert},
		ClientAuth:             tls.RequireAnyClientCert,
		VerifyConnection:       k.verifyPeer,
		SessionTicketsDisabled: true,
	}
}

// ClientConfig is a TLS 1.3-only client configuration that presents this
// key's certificate and accepts only a server whose certificate carries
// this key. Each call returns a new Config.
//
// InsecureSkipVerify turns off the usual chain and host name checks, which
// mean nothing for a self-signed certificate; VerifyConnection, which
// crypto/tls calls regardless, does the check that matters.
func (k *Key) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		MaxVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{k.cert},
		InsecureSkipVerify: true,
		VerifyConnection:   k.verifyPeer,
	}
}

// verifyPeer accepts a peer whose leaf certificate carries this key's
// public key. crypto/tls has already checked, by the handshake signature,
// that the peer holds the matching private key.
func (k *Key) verifyPeer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: it presented no certificate", ErrPeerKey)
	}
	pub, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("%w: its certificate has a %s key, not Ed25519", ErrPeerKey, cs.PeerCertificates[0].PublicKeyAlgorithm)
	}
	if len(pub) != ed25519.PublicKeySize || subtle.ConstantTimeCompare(pub, k.pub) != 1 {
		return fmt.Errorf("%w: its key is %s, this triad's is %s", ErrPeerKey, keyID(pub), k.id)
	}
	return nil
}

// String is "cluster key ID".
func (k Key) String() string { return "cluster key " + k.id }

// GoString is `clusterkey.Key{ID: "ID"}`.
func (k Key) GoString() string { return fmt.Sprintf("clusterkey.Key{ID: %q}", k.id) }

// Format prints String for every verb, or GoString for %#v, so that no
// verb reaches the key material through reflection.
func (k Key) Format(f fmt.State, verb rune) {
	s := k.String()
	if verb == 'v' && f.Flag('#') {
		s = k.GoString()
	}
	if verb == 'q' {
		s = fmt.Sprintf("%q", s)
	}
	io.WriteString(f, s)
}

// compile-time checks that both Key and *Key print safely.
var (
	_ fmt.Formatter  = Key{}
	_ fmt.GoStringer = (*Key)(nil)
	_ fmt.Stringer   = (*Key)(nil)
)

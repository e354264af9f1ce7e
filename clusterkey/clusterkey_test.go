package clusterkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretA and secretB are two different cluster secrets.
var (
	secretA = bytes.Repeat([]byte{0xa5}, SecretSize)
	secretB = bytes.Repeat([]byte{0x5a}, SecretSize)
)

func mustKey(t *testing.T, secret []byte) *Key {
	t.Helper()
	k, err := FromBytes(secret)
	require.NoError(t, err)
	return k
}

// handshake connects a client with clientCfg to a server with serverCfg
// over loopback TCP. After the handshake the server sends one byte and the
// client answers with one: in TLS 1.3 a client learns that the server
// rejected its certificate only when it next reads. It returns each side's
// first error.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(deadline)
		tc := tls.Server(conn, serverCfg)
		done <- exchange(tc.Handshake, func() error { return write(tc) }, func() error { return read(tc) })
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	conn.SetDeadline(deadline)
	tc := tls.Client(conn, clientCfg)
	clientErr = exchange(tc.Handshake, func() error { return read(tc) }, func() error { return write(tc) })
	conn.Close()
	return <-done, clientErr
}

// exchange runs steps until one fails.
func exchange(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func write(c *tls.Conn) error {
	_, err := c.Write([]byte{1})
	return err
}

func read(c *tls.Conn) error {
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// ecdsaClientConfig presents a self-signed ECDSA certificate: a peer with a
// certificate, but no Ed25519 key at all.
func ecdsaClientConfig(t *testing.T) *tls.Config {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "intruder"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}},
		InsecureSkipVerify: true,
	}
}

func TestHandshake(t *testing.T) {
	a, b := mustKey(t, secretA), mustKey(t, secretB)
	aAgain := mustKey(t, append([]byte(nil), secretA...))
	noCert := a.ClientConfig()
	noCert.Certificates = nil
	// Members with another key that skip checking their peer: the other
	// side's check alone must stop them.
	bClientNoCheck, bServerNoCheck := b.ClientConfig(), b.ServerConfig()
	bClientNoCheck.VerifyConnection, bServerNoCheck.VerifyConnection = nil, nil
	tests := []struct {
		name         string
		server       *tls.Config
		client       *tls.Config
		wantOK       bool
		serverPeerKe bool // the server's error wraps ErrPeerKey
		clientPeerKe bool // the client's error wraps ErrPeerKey
	}{
		{name: "same key", server: a.ServerConfig(), client: a.ClientConfig(), wantOK: true},
		{name: "same key, other direction", server: b.ServerConfig(), client: b.ClientConfig(), wantOK: true},
		{name: "same secret loaded twice", server: a.ServerConfig(), client: aAgain.ClientConfig(), wantOK: true},
		// Both sides check, and in TLS 1.3 the client sees the server's
		// certificate first: the client refuses the server.
		{name: "client has another key", server: a.ServerConfig(), client: b.ClientConfig(), clientPeerKe: true},
		{name: "client has another key and checks nothing", server: a.ServerConfig(), client: bClientNoCheck, serverPeerKe: true},
		{name: "server has another key", server: b.ServerConfig(), client: a.ClientConfig(), clientPeerKe: true},
		{name: "server has another key and checks nothing", server: bServerNoCheck, client: a.ClientConfig(), clientPeerKe: true},
		{name: "client presents no certificate", server: a.ServerConfig(), client: noCert},
		{name: "client presents an ECDSA certificate", server: a.ServerConfig(), client: ecdsaClientConfig(t), serverPeerKe: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverErr, clientErr := handshake(t, tt.server, tt.client)
			if tt.wantOK {
				assert.NoError(t, serverErr, "server")
				assert.NoError(t, clientErr, "client")
				return
			}
			require.Error(t, serverErr, "server")
			require.Error(t, clientErr, "client")
			assert.Equal(t, tt.serverPeerKe, errors.Is(serverErr, ErrPeerKey), "server error %v", serverErr)
			assert.Equal(t, tt.clientPeerKe, errors.Is(clientErr, ErrPeerKey), "client error %v", clientErr)
		})
	}
}

func TestVerifyPeerMessage(t *testing.T) {
	a, b := mustKey(t, secretA), mustKey(t, secretB)
	err := a.verifyPeer(tls.ConnectionState{PeerCertificates: []*x509.Certificate{b.cert.Leaf}})
	require.ErrorIs(t, err, ErrPeerKey)
	assert.Contains(t, err.Error(), b.ID())
	assert.Contains(t, err.Error(), a.ID())
	assert.ErrorIs(t, a.verifyPeer(tls.ConnectionState{}), ErrPeerKey)
	assert.NoError(t, a.verifyPeer(tls.ConnectionState{PeerCertificates: []*x509.Certificate{a.cert.Leaf}}))
}

func TestConfigs(t *testing.T) {
	k := mustKey(t, secretA)
	for name, cfg := range map[string]*tls.Config{"server": k.ServerConfig(), "client": k.ClientConfig()} {
		assert.Equal(t, uint16(tls.VersionTLS13), cfg.MinVersion, name)
		assert.Equal(t, uint16(tls.VersionTLS13), cfg.MaxVersion, name)
		assert.NotNil(t, cfg.VerifyConnection, name)
		assert.Len(t, cfg.Certificates, 1, name)
	}
	assert.Equal(t, tls.RequireAnyClientCert, k.ServerConfig().ClientAuth)
	assert.NotSame(t, k.ServerConfig(), k.ServerConfig(), "each call returns a new Config")
}

func TestDeterministic(t *testing.T) {
	k1, k2 := mustKey(t, secretA), mustKey(t, append([]byte(nil), secretA...))
	assert.Equal(t, k1.ID(), k2.ID())
	assert.Equal(t, k1.cert.Certificate, k2.cert.Certificate, "same certificate from the same secret")
	assert.NotEqual(t, k1.ID(), mustKey(t, secretB).ID())
	assert.Regexp(t, `^[0-9a-f]{16}$`, k1.ID())
	assert.Positive(t, k1.cert.Leaf.SerialNumber.Sign())
	assert.True(t, k1.cert.Leaf.NotAfter.After(time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func TestFromBytes(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		wantErr bool
	}{
		{"nil", nil, true},
		{"31 bytes", make([]byte, 31), true},
		{"32 bytes", make([]byte, 32), false},
		{"64 bytes", make([]byte, 64), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := FromBytes(tt.secret)
			if tt.wantErr {
				assert.Error(t, err)
				assert.Nil(t, k)
			} else {
				assert.NoError(t, err)
				assert.NotEmpty(t, k.ID())
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.key")
	require.NoError(t, Generate(path))
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 2)
	assert.True(t, strings.HasPrefix(lines[0], "# "), "a comment first: %q", lines[0])
	assert.Regexp(t, `^[0-9a-f]{64}$`, lines[1])

	k, err := Load(path)
	require.NoError(t, err)
	secret, _ := hex.DecodeString(lines[1])
	assert.Equal(t, mustKey(t, secret).ID(), k.ID())

	// Never overwrite.
	err = Generate(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	after, _ := os.ReadFile(path)
	assert.Equal(t, data, after, "the existing key is untouched")

	// Two keys differ.
	other := filepath.Join(dir, "other.key")
	require.NoError(t, Generate(other))
	k2, err := Load(other)
	require.NoError(t, err)
	assert.NotEqual(t, k.ID(), k2.ID())

	assert.Error(t, Generate(filepath.Join(dir, "no", "such", "dir")))
}

func TestLoad(t *testing.T) {
	good := string(format(secretA))
	secretHex := hex.EncodeToString(secretA)
	tests := []struct {
		name    string
		content string // "" with noFile: no file at all
		mode    os.FileMode
		noFile  bool
		wantErr string // "" for success
		unixBit bool   // a permission test, meaningless on Windows
	}{
		{name: "good", content: good, mode: 0o600},
		{name: "0400", content: good, mode: 0o400},
		{name: "no comment, CRLF, upper case", content: strings.ToUpper(secretHex) + "\r\n", mode: 0o600},
		{name: "0644", content: good, mode: 0o644, wantErr: "chmod 600", unixBit: true},
		{name: "0640", content: good, mode: 0o640, wantErr: "chmod 600", unixBit: true},
		{name: "0602", content: good, mode: 0o602, wantErr: "chmod 600", unixBit: true},
		{name: "missing", noFile: true, wantErr: "lmutil lmkeygen -cluster FILE"},
		{name: "empty", content: "", mode: 0o600, wantErr: "no key line"},
		{name: "comment only", content: "# nothing\n", mode: 0o600, wantErr: "no key line"},
		{name: "short", content: secretHex[:62] + "\n", mode: 0o600, wantErr: "62 characters"},
		{name: "long", content: secretHex + "00\n", mode: 0o600, wantErr: "66 characters"},
		{name: "not hex", content: secretHex[:63] + "g\n", mode: 0o600, wantErr: "not 64 hex digits"},
		{name: "two keys", content: good + secretHex + "\n", mode: 0o600, wantErr: "second key line"},
		{name: "too big", content: strings.Repeat("#\n", maxFileSize), mode: 0o600, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unixBit && runtime.GOOS == "windows" {
				t.Skip("no group or other permission bits on Windows")
			}
			path := filepath.Join(t.TempDir(), "cluster.key")
			if !tt.noFile {
				require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
				require.NoError(t, os.Chmod(path, tt.mode))
			}
			k, err := Load(path)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, mustKey(t, secretA).ID(), k.ID())
				return
			}
			require.Error(t, err)
			assert.Nil(t, k)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), path, "the error names the file")
			assert.NotContains(t, strings.ToLower(err.Error()), secretHex[:16], "the error quotes no key material")
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := Load(t.TempDir())
		assert.ErrorContains(t, err, "not a regular file")
	})
}

// TestNoSecretInOutput prints a key every way fmt can and checks that
// neither the secret nor the derived private key shows.
func TestNoSecretInOutput(t *testing.T) {
	k := mustKey(t, secretA)
	forbidden := []string{
		hex.EncodeToString(secretA),
		hex.EncodeToString(k.priv.Seed()),
		hex.EncodeToString(k.priv),
		fmt.Sprint([]byte(k.priv.Seed())),
		fmt.Sprint(secretA),
	}
	var outs []string
	for _, v := range []any{k, *k} {
		outs = append(outs,
			fmt.Sprintf("%v %+v %#v %s", v, v, v, v),
			fmt.Sprintf("%x %X %q %d", v, v, v, v),
			fmt.Sprint(v), fmt.Sprintln(v))
	}
	outs = append(outs, fmt.Sprintf("%v %+v", []*Key{k}, map[string]Key{"k": *k}))
	for _, out := range outs {
		assert.Contains(t, out, k.ID())
		for _, f := range forbidden {
			assert.NotContains(t, strings.ToLower(out), f)
			assert.NotContains(t, out, f[:min(len(f), 32)])
		}
	}
	assert.Equal(t, "cluster key "+k.ID(), k.String())
	assert.Equal(t, `clusterkey.Key{ID: "`+k.ID()+`"}`, fmt.Sprintf("%#v", k))

	// Errors from a handshake with another key carry IDs only.
	_, err := handshake(t, mustKey(t, secretB).ServerConfig(), k.ClientConfig())
	require.ErrorIs(t, err, ErrPeerKey)
	for _, f := range forbidden {
		assert.NotContains(t, err.Error(), f)
	}
}

func TestSignVerifyProvesTheSameClusterKey(t *testing.T) {
	a, err := FromBytes(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	same, _ := FromBytes(bytes.Repeat([]byte{7}, 32))
	other, _ := FromBytes(bytes.Repeat([]byte{8}, 32))
	sig := a.Sign([]byte("purpose\x00challenge"))
	if !same.Verify([]byte("purpose\x00challenge"), sig) {
		t.Fatal("a member with the same cluster key does not accept the signature")
	}
	for name, ok := range map[string]bool{
		"another key":       other.Verify([]byte("purpose\x00challenge"), sig),
		"another challenge": same.Verify([]byte("purpose\x00challenge2"), sig),
		"truncated":         same.Verify([]byte("purpose\x00challenge"), sig[:10]),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Package adminauth is lmtriad's administrator passwords: how they are
// kept, how an administrator proves one, and how a server slows down
// whoever guesses.
//
// The proof is SCRAM-SHA-256 (RFC 5802, RFC 7677), through the
// github.com/xdg-go/scram implementation: the password never crosses the
// network, the server proves in turn that it knows the verifier, and what
// the servers keep (Credential: a random salt, an iteration count and the
// two keys SCRAM derives) is a slow salted hash of the password
// (PBKDF2-HMAC-SHA256 from Go's crypto/pbkdf2, DefaultIterations rounds),
// not the password. A credential is made where the password is typed
// (lmutil lmpasswd) and only the credential is sent to the server.
//
// There are two passwords, one per level: "full" and "restricted" (the
// SCRAM user name is the level). Throttle is the per-peer slowdown of
// failed attempts, on an injected clock.
package adminauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/xdg-go/scram"
)

// Mechanism names the proof in the protocol (HELLO auth=).
const Mechanism = "scram-sha-256"

// The levels a password can be set for.
const (
	LevelFull       = "full"
	LevelRestricted = "restricted"
)

// ValidLevel reports whether level names a password.
func ValidLevel(level string) bool { return level == LevelFull || level == LevelRestricted }

// Iteration counts of the password hash. DefaultIterations is OWASP's
// recommendation for PBKDF2-HMAC-SHA256 (about 0.13 s on one core of the
// machines this was written on). MinIterations is RFC 7677's floor: a
// credential or a server asking for fewer is refused; tests use it to stay
// fast. MaxIterations keeps a hostile server from making lmutil spin.
const (
	DefaultIterations = 600_000
	MinIterations     = 4096
	MaxIterations     = 10_000_000
)

const (
	saltSize = 16
	keySize  = sha256.Size
)

// MaxPasswordLength bounds what lmpasswd accepts.
const MaxPasswordLength = 1024

// Credential is what the servers keep of one password.
type Credential struct {
	Salt   []byte `json:"salt"`
	Iters  int    `json:"iters"`
	Stored []byte `json:"stored"` // SCRAM StoredKey: H(HMAC(SaltedPassword, "Client Key"))
	Server []byte `json:"server"` // SCRAM ServerKey: HMAC(SaltedPassword, "Server Key")
}

// ErrMalformed is wrapped by the errors of credentials and messages that
// cannot be what they claim.
var ErrMalformed = errors.New("adminauth: malformed")

// Validate checks a credential's shape (one received from lmutil or a peer).
func (c Credential) Validate() error {
	switch {
	case len(c.Salt) < saltSize || len(c.Salt) > 64:
		return fmt.Errorf("%w: salt of %d bytes", ErrMalformed, len(c.Salt))
	case c.Iters < MinIterations || c.Iters > MaxIterations:
		return fmt.Errorf("%w: %d iterations (%d to %d)", ErrMalformed, c.Iters, MinIterations, MaxIterations)
	case len(c.Stored) != keySize || len(c.Server) != keySize:
		return fmt.Errorf("%w: keys of %d and %d bytes, want %d", ErrMalformed, len(c.Stored), len(c.Server), keySize)
	}
	return nil
}

// Equal reports whether two credentials are the same.
func (c Credential) Equal(o Credential) bool {
	return string(c.Salt) == string(o.Salt) && c.Iters == o.Iters &&
		string(c.Stored) == string(o.Stored) && string(c.Server) == string(o.Server)
}

// String never shows key material.
func (c Credential) String() string { return fmt.Sprintf("Credential(%d iterations)", c.Iters) }

// GoString is String, so that %#v shows no key material either.
func (c Credential) GoString() string { return c.String() }

// CheckPassword refuses a password lmpasswd should not set.
func CheckPassword(password string) error {
	switch {
	case password == "":
		return errors.New("the password is empty")
	case len(password) > MaxPasswordLength:
		return fmt.Errorf("the password is longer than %d bytes", MaxPasswordLength)
	}
	return nil
}

// NewCredential hashes password for level with a fresh random salt.
func NewCredential(level, password string, iterations int) (Credential, error) {
	if !ValidLevel(level) {
		return Credential{}, fmt.Errorf("adminauth: level %q: want full or restricted", level)
	}
	if err := CheckPassword(password); err != nil {
		return Credential{}, err
	}
	if iterations < MinIterations || iterations > MaxIterations {
		return Credential{}, fmt.Errorf("adminauth: %d iterations: want %d to %d", iterations, MinIterations, MaxIterations)
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, err
	}
	c, err := scram.SHA256.NewClient(level, password, "")
	if err != nil {
		return Credential{}, fmt.Errorf("adminauth: %w", err)
	}
	sc, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	if err != nil {
		return Credential{}, fmt.Errorf("adminauth: %w", err)
	}
	return Credential{Salt: salt, Iters: iterations, Stored: sc.StoredKey, Server: sc.ServerKey}, nil
}

// Encode and Decode carry SCRAM messages and credential fields in the
// line protocol (base64url without padding: no blanks, no quotes).
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Decode reads what Encode wrote.
func Decode(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, nil
}

// Lookup finds the credential of a level ("full", "restricted").
type Lookup func(level string) (Credential, bool)

// Errors of a proof, as the server sees them.
var (
	// ErrNoPassword: no password is set for the level asked for.
	ErrNoPassword = errors.New("no password is set for this level")
	// ErrWrongPassword: the proof does not match the credential.
	ErrWrongPassword = errors.New("the password does not match")
)

// ServerExchange is the server's side of one proof.
type ServerExchange struct {
	conv  *scram.ServerConversation
	level string
}

// Begin starts a proof from the client's first SCRAM message and returns
// the server's first message. The level is the SCRAM user name.
func Begin(lookup Lookup, clientFirst string) (*ServerExchange, string, error) {
	ex := &ServerExchange{}
	srv, err := scram.SHA256.NewServer(func(level string) (scram.StoredCredentials, error) {
		if !ValidLevel(level) {
			return scram.StoredCredentials{}, fmt.Errorf("%w: level %q", ErrMalformed, level)
		}
		ex.level = level
		c, ok := lookup(level)
		if !ok {
			return scram.StoredCredentials{}, ErrNoPassword
		}
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iters},
			StoredKey:  c.Stored, ServerKey: c.Server,
		}, nil
	})
	if err != nil {
		return nil, "", err
	}
	ex.conv = srv.NewConversation()
	serverFirst, err := ex.conv.Step(clientFirst)
	if err != nil {
		if errors.Is(err, ErrNoPassword) {
			return ex, "", ErrNoPassword // ex.Level() says which
		}
		return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return ex, serverFirst, nil
}

// Level is the level the client asked for (valid after Begin).
func (ex *ServerExchange) Level() string { return ex.level }

// Finish checks the client's proof and returns the server's final message
// (its own proof), or ErrWrongPassword.
func (ex *ServerExchange) Finish(clientFinal string) (string, error) {
	serverFinal, err := ex.conv.Step(clientFinal)
	if err != nil || !ex.conv.Valid() {
		return "", ErrWrongPassword
	}
	return serverFinal, nil
}

// Client is an administrator's password, for proofs to any number of
// servers: the slow hash is computed once per salt.
type Client struct {
	password string
	clients  map[string]*scram.Client
}

// NewClient keeps password for proofs.
func NewClient(password string) *Client {
	return &Client{password: password, clients: map[string]*scram.Client{}}
}

// ClientExchange is the client's side of one proof.
type ClientExchange struct {
	conv *scram.ClientConversation
}

// Begin starts a proof of the password of level and returns the first
// message to send.
func (c *Client) Begin(level string) (*ClientExchange, string, error) {
	sc, ok := c.clients[level]
	if !ok {
		var err error
		sc, err = scram.SHA256.NewClient(level, c.password, "")
		if err != nil {
			return nil, "", fmt.Errorf("adminauth: %w", err)
		}
		c.clients[level] = sc.WithMinIterations(MinIterations)
	}
	conv := sc.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return nil, "", fmt.Errorf("adminauth: %w", err)
	}
	return &ClientExchange{conv: conv}, first, nil
}

// Answer takes the server's first message and returns the proof to send.
func (ex *ClientExchange) Answer(serverFirst string) (string, error) {
	if it := iterationsOf(serverFirst); it > MaxIterations {
		return "", fmt.Errorf("%w: the server asks for %d iterations", ErrMalformed, it)
	}
	final, err := ex.conv.Step(serverFirst)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return final, nil
}

// Verify checks the server's final message: the server knew the
// credential (not an impostor that accepts any proof).
func (ex *ClientExchange) Verify(serverFinal string) error {
	if _, err := ex.conv.Step(serverFinal); err != nil || !ex.conv.Valid() {
		return errors.New("the server could not prove it knows the password: not the license server it claims to be")
	}
	return nil
}

// iterationsOf reads i= of a server-first message (0 if absent).
func iterationsOf(serverFirst string) int {
	n := 0
	for i := 0; i+2 <= len(serverFirst); i++ {
		if (i == 0 || serverFirst[i-1] == ',') && serverFirst[i:i+2] == "i=" {
			for j := i + 2; j < len(serverFirst) && '0' <= serverFirst[j] && serverFirst[j] <= '9'; j++ {
				if n > MaxIterations {
					return n
				}
				n = n*10 + int(serverFirst[j]-'0')
			}
			return n
		}
	}
	return n
}

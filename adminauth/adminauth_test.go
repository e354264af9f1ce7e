package adminauth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prove runs one whole proof of password for level against the
// credentials in store, as lmgrd and lmutil do.
func prove(t *testing.T, store map[string]Credential, password, level string) error {
	t.Helper()
	cl := NewClient(password)
	cx, first, err := cl.Begin(level)
	require.NoError(t, err)
	sx, serverFirst, err := Begin(func(l string) (Credential, bool) { c, ok := store[l]; return c, ok }, first)
	if err != nil {
		return err
	}
	assert.Equal(t, level, sx.Level())
	final, err := cx.Answer(serverFirst)
	require.NoError(t, err)
	serverFinal, err := sx.Finish(final)
	if err != nil {
		return err
	}
	return cx.Verify(serverFinal)
}

func TestProofOfEachPassword(t *testing.T) {
	full, err := NewCredential(LevelFull, "correct horse", MinIterations)
	require.NoError(t, err)
	restricted, err := NewCredential(LevelRestricted, "battery staple", MinIterations)
	require.NoError(t, err)
	require.NoError(t, full.Validate())
	store := map[string]Credential{LevelFull: full, LevelRestricted: restricted}

	tests := []struct {
		password, level string
		want            error
	}{
		{"correct horse", LevelFull, nil},
		{"battery staple", LevelRestricted, nil},
		{"battery staple", LevelFull, ErrWrongPassword},
		{"correct horse", LevelRestricted, ErrWrongPassword},
		{"Correct horse", LevelFull, ErrWrongPassword},
		{"", LevelFull, ErrWrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.password, func(t *testing.T) {
			err := prove(t, store, tt.password, tt.level)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
	t.Run("no restricted password set", func(t *testing.T) {
		err := prove(t, map[string]Credential{LevelFull: full}, "battery staple", LevelRestricted)
		assert.ErrorIs(t, err, ErrNoPassword)
	})
	t.Run("unknown level", func(t *testing.T) {
		err := prove(t, store, "correct horse", "root")
		assert.ErrorIs(t, err, ErrMalformed)
	})
}

func TestServerMustProveItKnowsTheCredential(t *testing.T) {
	real, err := NewCredential(LevelFull, "s3cret", MinIterations)
	require.NoError(t, err)
	// An impostor that took the salt from a real exchange but not the keys.
	fake := real
	fake.Server = make([]byte, len(real.Server))
	cl := NewClient("s3cret")
	cx, first, err := cl.Begin(LevelFull)
	require.NoError(t, err)
	sx, serverFirst, err := Begin(func(string) (Credential, bool) { return fake, true }, first)
	require.NoError(t, err)
	final, err := cx.Answer(serverFirst)
	require.NoError(t, err)
	serverFinal, err := sx.Finish(final)
	require.NoError(t, err, "the stored key is right, so the client's proof passes")
	assert.Error(t, cx.Verify(serverFinal), "but the client notices the server's proof is wrong")
}

func TestCredentialHoldsNoPasswordAndPrintsNoKeys(t *testing.T) {
	c, err := NewCredential(LevelFull, "hunter2-unique", MinIterations)
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, c)
		assert.NotContains(t, s, Encode(c.Stored), verb)
		assert.NotContains(t, s, "hunter2", verb)
	}
	c2, err := NewCredential(LevelFull, "hunter2-unique", MinIterations)
	require.NoError(t, err)
	assert.False(t, c.Equal(c2), "each credential has its own salt")
}

func TestCredentialValidate(t *testing.T) {
	good, err := NewCredential(LevelFull, "pw", MinIterations)
	require.NoError(t, err)
	tests := []struct {
		name string
		edit func(*Credential)
	}{
		{"short salt", func(c *Credential) { c.Salt = c.Salt[:4] }},
		{"few iterations", func(c *Credential) { c.Iters = 1 }},
		{"huge iterations", func(c *Credential) { c.Iters = MaxIterations + 1 }},
		{"short stored key", func(c *Credential) { c.Stored = c.Stored[:5] }},
		{"no server key", func(c *Credential) { c.Server = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			assert.ErrorIs(t, c.Validate(), ErrMalformed)
		})
	}
	_, err = NewCredential("root", "pw", MinIterations)
	assert.Error(t, err)
	_, err = NewCredential(LevelFull, "", MinIterations)
	assert.Error(t, err)
	_, err = NewCredential(LevelFull, strings.Repeat("x", MaxPasswordLength+1), MinIterations)
	assert.Error(t, err)
	_, err = NewCredential(LevelFull, "pw", 10)
	assert.Error(t, err)
}

func TestClientRefusesAServerAskingForTooManyIterations(t *testing.T) {
	cx, _, err := NewClient("pw").Begin(LevelFull)
	require.NoError(t, err)
	_, err = cx.Answer("r=abc,s=c2FsdHNhbHRzYWx0c2FsdA==,i=999999999999")
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestGarbageProofMessagesAreErrorsNotPanics(t *testing.T) {
	c, err := NewCredential(LevelFull, "pw", MinIterations)
	require.NoError(t, err)
	lookup := func(string) (Credential, bool) { return c, true }
	for _, first := range []string{"", "n,,", "x", "n,,n=full", strings.Repeat("n", 5000)} {
		_, _, err := Begin(lookup, first)
		assert.Error(t, err, "%q", first)
	}
	cx, first, err := NewClient("pw").Begin(LevelFull)
	require.NoError(t, err)
	sx, _, err := Begin(lookup, first)
	require.NoError(t, err)
	_ = cx
	for _, final := range []string{"", "c=biws", "c=biws,r=x,p=AAAA"} {
		_, err := sx.Finish(final)
		assert.ErrorIs(t, err, ErrWrongPassword, "%q", final)
	}
}

func TestThrottleSlowsAPeerAfterFreeFailures(t *testing.T) {
	th := NewThrottle()
	now := time.Unix(1_000_000, 0)
	for i := 0; i < 3; i++ {
		assert.Zero(t, th.Wait("10.0.0.1", now))
		assert.Zero(t, th.Failed("10.0.0.1", now), "failure %d is free", i+1)
	}
	assert.Equal(t, time.Second, th.Failed("10.0.0.1", now))
	assert.Equal(t, time.Second, th.Wait("10.0.0.1", now))
	assert.Zero(t, th.Wait("10.0.0.2", now), "another peer is not slowed")
	now = now.Add(time.Second)
	assert.Zero(t, th.Wait("10.0.0.1", now))
	assert.Equal(t, 2*time.Second, th.Failed("10.0.0.1", now))
	assert.Equal(t, 4*time.Second, th.Failed("10.0.0.1", now))
	for i := 0; i < 40; i++ {
		th.Failed("10.0.0.1", now)
	}
	assert.Equal(t, time.Minute, th.Wait("10.0.0.1", now), "capped")
	assert.Equal(t, 46, th.Failures("10.0.0.1", now))

	th.Succeeded("10.0.0.1")
	assert.Zero(t, th.Wait("10.0.0.1", now))
	assert.Zero(t, th.Failures("10.0.0.1", now))

	th.Failed("10.0.0.3", now)
	assert.Equal(t, 1, th.Failures("10.0.0.3", now))
	assert.Zero(t, th.Failures("10.0.0.3", now.Add(time.Hour)), "forgotten after an hour")
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	th := &Throttle{Free: 0, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxPeers: 8}
	now := time.Unix(1_000_000, 0)
	for i := 0; i < 100; i++ {
		th.Failed(fmt.Sprintf("10.0.1.%d", i), now)
	}
	assert.LessOrEqual(t, len(th.peers), 9)
	assert.NotZero(t, th.Wait("10.0.2.1", now), "peers beyond the bound share one record")
	later := now.Add(2 * time.Hour)
	th.Failed("10.0.3.1", later)
	assert.Zero(t, th.Wait("10.0.2.1", later.Add(2*time.Minute)))
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	pw, err := readPasswordFile(write("ok", "s3cret with blanks \nsecond line\n", 0o600))
	require.NoError(t, err)
	assert.Equal(t, "s3cret with blanks ", pw, "the first line, as typed")
	pw, err = readPasswordFile(write("nonl", "no-newline", 0o400))
	require.NoError(t, err)
	assert.Equal(t, "no-newline", pw)

	_, err = readPasswordFile(write("open", "pw\n", 0o644))
	assert.ErrorContains(t, err, "chmod 600")
	_, err = readPasswordFile(write("empty", "\n", 0o600))
	assert.ErrorContains(t, err, "empty")
	_, err = readPasswordFile(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

func TestPasswordPromptIsAskedOnceAfterARefusal(t *testing.T) {
	asked := 0
	l := &adminLogin{prompt: func(q string) (string, error) {
		asked++
		assert.Contains(t, q, "27000@lic1")
		return "typed", nil
	}}
	hp := licfile.HostPort{Host: "lic1", Port: 27000}
	assert.True(t, l.ask(hp))
	assert.NotNil(t, l.current())
	assert.False(t, l.ask(hp), "asked once a run")
	assert.Equal(t, 1, asked)

	withEnv := &adminLogin{prompt: func(string) (string, error) { t.Fatal("prompted although a password was given"); return "", nil }}
	withEnv.use("from-env")
	assert.False(t, withEnv.ask(hp))
	var none *adminLogin
	assert.False(t, none.ask(hp), "no login (a command without passwords)")

	assert.True(t, needsPassword(wire.NewError(wire.CodeNotLicAdmin, hostid.MinorNeedsFull)))
	assert.False(t, needsPassword(wire.NewError(wire.CodeNotLicAdmin, 1)), "-x: a password would not help")
	assert.False(t, needsPassword(wire.NewError(wire.CodeMustBeLocal, 1)), "-local: a password would not help")
}

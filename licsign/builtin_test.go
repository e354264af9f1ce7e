package licsign

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/licfile"
)

func pubText(t *testing.T, k *PrivateKey) string {
	t.Helper()
	b, err := k.Public().MarshalText()
	require.NoError(t, err)
	return string(b)
}

func TestBuiltinKeys(t *testing.T) {
	demo, other, third := mustKey(t, "demo"), mustKey(t, "other"), mustKey(t, "third")
	fsys := fstest.MapFS{
		"builtin/README.md": {Data: []byte("# no key here\n")},
		"builtin/third.pub": {Data: []byte(pubText(t, third))},
	}
	ldflags := strings.TrimSpace(pubText(t, demo)) + ";" + strings.TrimSpace(pubText(t, other))
	keys, err := builtinKeys(ldflags, fsys, "builtin")
	require.NoError(t, err)
	var vendors []string
	for _, k := range keys {
		vendors = append(vendors, k.Vendor)
	}
	assert.Equal(t, []string{"demo", "other", "third"}, vendors)
	assert.Equal(t, third.Public().Key, keys[2].Key)

	signed, n, err := SignText("t.lic", []byte("FEATURE solver third 1.0 permanent 5 SIGN=0\n"), third)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f := parse(t, signed)
	assert.NoError(t, Verify(f.SignedLines()[0], keys), "an embedded key verifies its vendor's line")
}

func TestBuiltinKeysErrors(t *testing.T) {
	for _, tt := range []struct{ name, ldflags, file, want string }{
		{"bad ldflags", "lmtriad-vendor-key demo notbase64", "", "built-in key 1 (-X licsign.BuiltinKeys)"},
		{"private key", pubText(t, mustKey(t, "demo")) + ";lmtriad-vendor-private-key demo AAAA", "", "built-in key 2"},
		{"bad embedded file", "", "garbage\n", "built-in key licsign/builtin/bad.pub"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"builtin/README.md": {Data: []byte("x")}}
			if tt.file != "" {
				fsys["builtin/bad.pub"] = &fstest.MapFile{Data: []byte(tt.file)}
			}
			_, err := builtinKeys(tt.ldflags, fsys, "builtin")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// The tree ships no built-in key: only the README is embedded.
func TestBuiltinShipsNoKey(t *testing.T) {
	require.Empty(t, BuiltinKeys, "a test binary is built without -X")
	keys, err := Builtin()
	require.NoError(t, err)
	assert.Empty(t, keys)
	_, err = builtinDir.ReadFile("builtin/README.md")
	assert.NoError(t, err)
}

func parse(t *testing.T, text []byte) *licfile.File {
	t.Helper()
	f, err := licfile.Parse("t.lic", text)
	require.NoError(t, err)
	return f
}

func TestSignTextLeavesOtherVendors(t *testing.T) {
	text := "SERVER h ANY 27000\nVENDOR other\n# keep me\nFEATURE a other 1.0 permanent 1 SIGN=0\n"
	out, n, err := SignText("t.lic", []byte(text), mustKey(t, "demo"))
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Equal(t, text, string(out))
}

package enrol

import (
	"errors"
	"testing"

	"github.com/lmtriad/lmtriad/adminauth"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func doc(s string) Doc { return Doc{Body: []byte(s), HasServers: true} }

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, e := range []Entry{
		{Proposer: 1, Host: "lic2", Files: []File{{Name: "a.lic", Doc: doc("FEATURE f demo 1.0 permanent 1 SIGN=0\n")}}},
		{Proposer: 0, Init: true, Files: []File{{Name: "a.lic", Doc: doc("x")}, {Name: "b.lic", Removed: true}}},
		{Proposer: 2, Notice: "lic3 kept its copy of a.lic as a.lic.local-20261128-120000"},
	} {
		b, err := Encode(e)
		require.NoError(t, err)
		require.True(t, IsEntry(b))
		got, err := Decode(b)
		require.NoError(t, err)
		assert.Equal(t, e, got)
	}
}

func TestDecodeRefusesBadEntries(t *testing.T) {
	for name, b := range map[string][]byte{
		"table entry":      {1, 2, 0},
		"unknown version":  []byte("E\x09{}"),
		"empty":            []byte("E\x01{\"p\":0}"),
		"path in name":     []byte(`E` + "\x01" + `{"p":0,"f":[{"n":"../x.lic","b":""}]}`),
		"not .lic":         []byte(`E` + "\x01" + `{"p":0,"f":[{"n":"passwd","b":""}]}`),
		"hidden":           []byte(`E` + "\x01" + `{"p":0,"f":[{"n":".x.lic","b":""}]}`),
		"twice":            []byte(`E` + "\x01" + `{"p":0,"f":[{"n":"a.lic"},{"n":"a.lic"}]}`),
		"removed and body": []byte(`E` + "\x01" + `{"p":0,"f":[{"n":"a.lic","r":true,"b":"eA=="}]}`),
		"bad proposer":     []byte(`E` + "\x01" + `{"p":7,"x":"hi"}`),
		"unknown field":    []byte(`E` + "\x01" + `{"p":0,"x":"hi","z":1}`),
		"trailing":         []byte(`E` + "\x01" + `{"p":0,"x":"hi"}{}`),
	} {
		_, err := Decode(b)
		assert.True(t, errors.Is(err, ErrMalformed), "%s: %v", name, err)
	}
}

func TestSetApply(t *testing.T) {
	s := NewSet()
	ch, _, err := s.Apply(Entry{Init: true, Files: []File{{Name: "a.lic", Doc: doc("A")}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"a.lic"}, ch)
	assert.True(t, s.Initialized)
	d1 := s.Digest()

	ch, _, err = s.Apply(Entry{Init: true, Files: []File{{Name: "z.lic", Doc: doc("Z")}}})
	require.NoError(t, err)
	assert.Empty(t, ch, "a second first enrolment changes nothing")

	ch, _, err = s.Apply(Entry{Files: []File{{Name: "a.lic", Doc: doc("A")}, {Name: "b.lic", Doc: doc("B")}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"b.lic"}, ch, "unchanged content is no change")
	assert.NotEqual(t, d1, s.Digest())

	ch, _, err = s.Apply(Entry{Files: []File{{Name: "a.lic", Removed: true}, {Name: "q.lic", Removed: true}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"a.lic"}, ch)
	assert.Equal(t, []string{"b.lic"}, s.Names())

	_, _, err = s.Apply(Entry{Files: []File{{Name: "/etc/x.lic", Doc: doc("x")}}})
	require.ErrorIs(t, err, ErrMalformed)
	assert.Equal(t, []string{"b.lic"}, s.Names(), "a bad entry changes nothing")
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := NewSet()
	_, _, err := s.Apply(Entry{Files: []File{{Name: "a.lic", Doc: doc("A")}}})
	require.NoError(t, err)
	b, err := EncodeSnapshot([]byte{2, 1, 'x'}, s)
	require.NoError(t, err)
	tables, got, err := DecodeSnapshot(b)
	require.NoError(t, err)
	assert.Equal(t, []byte{2, 1, 'x'}, tables)
	assert.Equal(t, s, got)

	tables, got, err = DecodeSnapshot([]byte{2, 1, 'y'})
	require.NoError(t, err, "a snapshot of the tables alone (before enrolment) still reads")
	assert.Equal(t, []byte{2, 1, 'y'}, tables)
	assert.False(t, got.Initialized)

	_, _, err = DecodeSnapshot([]byte{'S', 1, 0xff})
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a.lic", "demo license.lic", "x.y.lic"} {
		assert.NoError(t, ValidName(ok), ok)
	}
	for _, bad := range []string{"", ".lic", "a.txt", "../a.lic", "d/a.lic", `d\a.lic`, ".a.lic", "a\n.lic"} {
		assert.Error(t, ValidName(bad), bad)
	}
}

func TestPasswordsAreReplicatedWithTheSet(t *testing.T) {
	full, err := adminauth.NewCredential(adminauth.LevelFull, "pw", adminauth.MinIterations)
	require.NoError(t, err)
	restricted, err := adminauth.NewCredential(adminauth.LevelRestricted, "pw2", adminauth.MinIterations)
	require.NoError(t, err)
	e := Entry{Proposer: 1, Host: "lic2", By: "joe at node (10.0.0.9)", Passwords: []PasswordChange{{Level: "full", Cred: &full}}}
	b, err := Encode(e)
	require.NoError(t, err)
	got, err := Decode(b)
	require.NoError(t, err)
	assert.Equal(t, e, got)

	s := NewSet()
	ch, _, err := s.Apply(got)
	require.NoError(t, err)
	assert.Empty(t, ch, "no license file changed")
	assert.False(t, s.Initialized, "a password does not stand for the first enrolment")
	assert.True(t, s.Passwords["full"].Equal(full))
	digest := s.Digest()

	_, _, err = s.Apply(Entry{Passwords: []PasswordChange{{Level: "restricted", Cred: &restricted}}})
	require.NoError(t, err)
	assert.Equal(t, digest, s.Digest(), "the license digest is about license files only")
	clone := s.Clone()
	_, _, err = s.Apply(Entry{Passwords: []PasswordChange{{Level: "full"}}})
	require.NoError(t, err)
	assert.NotContains(t, s.Passwords, "full", "a change without a credential removes the password")
	assert.Contains(t, clone.Passwords, "full", "a clone does not share the map")

	snap, err := EncodeSnapshot(nil, s)
	require.NoError(t, err)
	_, back, err := DecodeSnapshot(snap)
	require.NoError(t, err)
	assert.True(t, back.Passwords["restricted"].Equal(restricted), "passwords survive a snapshot")

	bad := full
	bad.Iters = 1
	for name, e := range map[string]Entry{
		"unknown level":   {Passwords: []PasswordChange{{Level: "root", Cred: &full}}},
		"weak credential": {Passwords: []PasswordChange{{Level: "full", Cred: &bad}}},
	} {
		_, err := Encode(e)
		assert.ErrorIs(t, err, ErrMalformed, name)
		_, _, err = NewSet().Apply(e)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

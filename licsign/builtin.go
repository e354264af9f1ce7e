package licsign

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// BuiltinKeys holds public keys set when the binary is built, each the text
// of a .pub file ("lmtriad-vendor-key VENDOR BASE64"), several separated by
// ';':
//
//	go build -ldflags "-X 'github.com/lmtriad/lmtriad/licsign.BuiltinKeys=lmtriad-vendor-key demo BASE64'" ./vendord
//
// It is parsed when used (Builtin); a bad value is an error there.
var BuiltinKeys string

// builtinDir is the directory builtin/ of this package, compiled in: its
// *.pub files are built-in keys too. It ships with a README.md only.
//
//go:embed builtin
var builtinDir embed.FS

// Builtin returns the public keys built into this binary: those of
// BuiltinKeys and of the files builtin/*.pub of this package.
func Builtin() ([]*PublicKey, error) {
	return builtinKeys(BuiltinKeys, builtinDir, "builtin")
}

// builtinKeys parses the keys of ldflags (';'-separated key lines) and of
// the *.pub files in dir of fsys.
func builtinKeys(ldflags string, fsys fs.FS, dir string) ([]*PublicKey, error) {
	var keys []*PublicKey
	for i, text := range strings.Split(ldflags, ";") {
		if strings.TrimSpace(text) == "" {
			continue
		}
		k, err := ParsePublicKey([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("built-in key %d (-X licsign.BuiltinKeys): %v", i+1, err)
		}
		keys = append(keys, k)
	}
	paths, err := fs.Glob(fsys, path.Join(dir, "*.pub"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		k, err := ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("built-in key licsign/%s: %v", p, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

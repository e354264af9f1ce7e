package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/urfave/cli/v2"
)

func lmcryptCommand() *cli.Command {
	return &cli.Command{
		Name:      "lmcrypt",
		Usage:     "sign license files with a vendor's private key",
		ArgsUsage: "-key VENDOR.key FILE...",
		Description: "Signs, in place, every FEATURE, INCREMENT, UPGRADE and PACKAGE line of\n" +
			"the key's vendor (named in the key file, made by lmkeygen VENDOR DIR):\n" +
			"SIGN=ed1:... replaces any SIGN= or license key. The signed lines are\n" +
			"rewritten in lmtriad's layout (a trailing comment on them is dropped);\n" +
			"every other line, comment and blank is kept as it is. A file with\n" +
			"errors is left alone. Check signatures with lmcksum -vendor-keys.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the vendor's private key `FILE` (VENDOR.key)"},
		},
		Action: func(c *cli.Context) error {
			return lmcrypt(c.App.Writer, c.App.ErrWriter, c.String("key"), c.Args().Slice())
		},
	}
}

// lmcrypt signs the lines of the key's vendor in each file. It goes on after
// a file fails and returns exitError{1} when any did.
func lmcrypt(stdout, stderr io.Writer, keyPath string, files []string) error {
	if keyPath == "" || len(files) == 0 {
		fmt.Fprintln(stderr, "usage: lmutil lmcrypt -key VENDOR.key FILE...")
		return exitError{1}
	}
	k, err := licsign.LoadPrivateKey(keyPath)
	if err != nil {
		fmt.Fprintf(stderr, "lmcrypt: %v\n", err)
		return exitError{1}
	}
	failed := false
	for _, path := range files {
		n, err := signFile(path, k)
		if err != nil {
			fmt.Fprintf(stderr, "lmcrypt: %v\n", err)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s: signed %d line(s) of vendor %s\n", path, n, k.Vendor)
	}
	if failed {
		return exitError{1}
	}
	return nil
}

// signFile signs the lines of k's vendor in the file at path and replaces
// the file through a temporary file in its directory, keeping its mode.
func signFile(path string, k *licsign.PrivateKey) (int, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return 0, err
	}
	out, n, err := signText(path, data, k)
	if err != nil {
		return 0, err
	}
	return n, replaceFile(real, out, fi.Mode().Perm())
}

// signText returns data with every line of k's vendor signed, and how many.
func signText(name string, data []byte, k *licsign.PrivateKey) ([]byte, int, error) {
	f, err := licfile.Parse(name, data)
	if err != nil {
		return nil, 0, fmt.Errorf("%s not signed:\n%v", name, err)
	}
	phys := strings.SplitAfter(string(data), "\n")
	repl := map[int]string{} // first physical line (0-based) -> new text
	n := 0
	for i := range f.Features {
		ft := f.Features[i]
		if ft.Vendor != k.Vendor {
			continue
		}
		ft.Attrs = withoutSign(ft.Attrs)
		ft.Sign = ""
		sig, err := licsign.Sign(licfile.SignedLine{Keyword: ft.Kind.String(), Name: ft.Name, Vendor: ft.Vendor, Canonical: ft.Canonical()}, k)
		if err != nil {
			return nil, 0, err
		}
		ft.Attrs, ft.Sign = append(ft.Attrs, licfile.Attr{Key: "SIGN", Value: sig}), sig
		text, err := printLine(&licfile.File{Features: []licfile.Feature{ft}})
		if err != nil {
			return nil, 0, err
		}
		repl[ft.Pos.Line-1] = text
		n++
	}
	for i := range f.Packages {
		pk := f.Packages[i]
		if pk.Vendor != k.Vendor {
			continue
		}
		pk.Attrs = withoutSign(pk.Attrs)
		pk.Sign = ""
		sig, err := licsign.Sign(licfile.SignedLine{Keyword: "PACKAGE", Name: pk.Name, Vendor: pk.Vendor, Canonical: pk.Canonical()}, k)
		if err != nil {
			return nil, 0, err
		}
		pk.Attrs, pk.Sign = append(pk.Attrs, licfile.Attr{Key: "SIGN", Value: sig}), sig
		text, err := printLine(&licfile.File{Packages: []licfile.Package{pk}})
		if err != nil {
			return nil, 0, err
		}
		repl[pk.Pos.Line-1] = text
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no FEATURE, INCREMENT, UPGRADE or PACKAGE line of vendor %s", name, k.Vendor)
	}
	var b strings.Builder
	for i := 0; i < len(phys); i++ {
		text, ok := repl[i]
		if !ok {
			b.WriteString(phys[i])
			continue
		}
		if strings.HasSuffix(phys[i], "\r\n") {
			text = strings.ReplaceAll(text, "\n", "\r\n")
		}
		b.WriteString(text)
		for continues(phys[i]) && i+1 < len(phys) { // skip the line's continuations
			i++
		}
	}
	out := []byte(b.String())

	// Check the result before it replaces the file.
	g, err := licfile.Parse(name, out)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: the signed text does not parse (not written):\n%v", name, err)
	}
	keys := []*licsign.PublicKey{k.Public()}
	checked := 0
	for _, l := range g.SignedLines() {
		if l.Vendor == k.Vendor {
			if err := licsign.Verify(l, keys); err != nil {
				return nil, 0, fmt.Errorf("%s: line %d does not verify after signing (not written): %v", name, l.Pos.Line, err)
			}
			checked++
		}
	}
	if checked != n {
		return nil, 0, fmt.Errorf("%s: %d line(s) signed but %d found after signing (not written)", name, n, checked)
	}
	return out, n, nil
}

// continues reports whether a physical line goes on on the next one, as
// licfile reads it: its last non-blank byte is a backslash.
func continues(line string) bool {
	return strings.HasSuffix(strings.TrimRight(line, " \t\r\n\v\f"), `\`)
}

func withoutSign(attrs []licfile.Attr) []licfile.Attr {
	out := make([]licfile.Attr, 0, len(attrs)+1)
	for _, a := range attrs {
		if !strings.EqualFold(a.Key, "SIGN") {
			out = append(out, a)
		}
	}
	return out
}

func printLine(f *licfile.File) (string, error) {
	var buf bytes.Buffer
	if err := licfile.Print(&buf, f); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// replaceFile writes data to a temporary file next to path and renames it
// over path, so that a reader sees the old file or the new one, never half.
func replaceFile(path string, data []byte, mode os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".lmcrypt-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

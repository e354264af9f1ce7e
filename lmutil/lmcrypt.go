package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	out, n, err := licsign.SignText(path, data, k)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no FEATURE, INCREMENT, UPGRADE or PACKAGE line of vendor %s", path, k.Vendor)
	}
	return n, replaceFile(real, out, fi.Mode().Perm())
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

package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"
)

// modulePath is the module every lmtriad program is built from.
const modulePath = "github.com/lmtriad/lmtriad"

func lmverCommand() *cli.Command {
	return &cli.Command{
		Name:      "lmver",
		Usage:     "print the version of lmutil or of another lmtriad program",
		ArgsUsage: "[binary]",
		Action: func(c *cli.Context) error {
			return lmver(c.App.Writer, c.Args().First())
		},
	}
}

// lmver prints "<program> <version> build <n> <platform>", FlexNet's layout,
// for lmutil itself or for the lmtriad binary at path.
func lmver(w io.Writer, path string) error {
	if path == "" {
		fmt.Fprintf(w, "lmutil %s build %d %s\n", version, build, platform(runtime.GOOS, runtime.GOARCH))
		return nil
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: not a program lmver can read: %w", path, err)
	}
	if bi.Main.Path != modulePath {
		return fmt.Errorf("%s: not an lmtriad program (module %q)", path, bi.Main.Path)
	}
	v := bi.Main.Version
	if !strings.HasPrefix(v, "v") { // "(devel)": built from a work tree, like this lmutil
		v = version
	}
	goos, goarch := runtime.GOOS, runtime.GOARCH
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), ".exe")
	fmt.Fprintf(w, "%s %s build %d %s\n", name, v, build, platform(goos, goarch))
	return nil
}

// platform names a Go target the FlexNet way (x64_lsb is 64-bit Linux).
func platform(goos, goarch string) string {
	arch := map[string]string{"amd64": "x64", "386": "i86", "arm64": "a64"}[goarch]
	if arch == "" {
		arch = goarch
	}
	switch goos {
	case "linux":
		return arch + "_lsb"
	case "windows":
		return arch + "_n6"
	case "darwin":
		return arch + "_mac10"
	}
	return arch + "_" + goos
}

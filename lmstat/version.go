package lmstat

import (
	"runtime"
	"strconv"
)

// Build is the build number in the `lmstat -v` line. Release builds set it
// with -ldflags '-X github.com/lmtriad/lmtriad/lmstat.Build=NNN'; it must
// stay all digits, which the exporter's version regex requires.
var Build = "1"

// Platform is the FlexLM platform name of this binary ("x64_lsb" on 64-bit
// Linux), the last token of the `lmstat -v` line.
var Platform = platformName(runtime.GOOS, runtime.GOARCH)

// CopyrightLine is the first line of every report:
// "lmutil - Copyright (c) 1989-2025 lmtriad authors. All Rights Reserved.".
// An empty program means "lmutil".
func CopyrightLine(program string, year int) string {
	if program == "" {
		program = "lmutil"
	}
	return program + " - Copyright (c) 1989-" + strconv.Itoa(year) + " " + Owner + ". All Rights Reserved."
}

// VersionBanner is the line `lmstat -v` prints after the copyright line,
// "lmstat v0.1.0 build 1 x64_lsb". The exporter reads it with
// `^lmstat (v[\d\.]+) build (\d+) (\w+)`.
func VersionBanner(program, version string) string {
	return program + " " + withV(version) + " build " + Build + " " + Platform
}

// platformName maps a Go target to FlexLM's platform names; targets FlexLM
// never named print as arch_os.
func platformName(goos, goarch string) string {
	switch goos + "/" + goarch {
	case "linux/amd64":
		return "x64_lsb"
	case "linux/386":
		return "i86_lsb"
	case "windows/amd64":
		return "x64_n6"
	case "windows/386":
		return "i86_n3"
	case "darwin/amd64":
		return "x64_mac10"
	}
	return goarch + "_" + goos
}

package main

import "github.com/lmtriad/lmtriad/wire"

// The version lmver and --version print.
const (
	version = wire.Version
	build   = 1
)

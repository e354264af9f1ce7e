// Command lmutil is the FlexLM-compatible license utility: lmcksum, lmver and
// (later) lmstat, lmdown, lmreread... Called through a link named after a
// subcommand (lmcksum, lmstat), it runs that subcommand.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

package main

import (
	"fmt"
	"io"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/urfave/cli/v2"
)

func lmkeygenCommand() *cli.Command {
	return &cli.Command{
		Name:      "lmkeygen",
		Usage:     "make a cluster key for the three lmgrds of a triad",
		ArgsUsage: "-cluster FILE",
		Description: "Writes a new random cluster key to FILE (mode 0600; an existing file is\n" +
			"never overwritten). Give the same file to all three lmgrds with\n" +
			"-cluster-key FILE: they accept only peers holding it.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cluster", Usage: "write a new cluster key to `FILE`"},
		},
		Action: func(c *cli.Context) error {
			return lmkeygen(c.App.Writer, c.App.ErrWriter, c.String("cluster"), c.Args().Slice())
		},
	}
}

// lmkeygen writes a new cluster key to clusterFile. args, the positional
// arguments, are kept for "lmkeygen VENDOR DIR" (vendor signing keys),
// which is not offered yet.
func lmkeygen(stdout, stderr io.Writer, clusterFile string, args []string) error {
	if clusterFile == "" {
		fmt.Fprintln(stderr, "lmkeygen: -cluster FILE is required (vendor signing keys are not offered yet)")
		fmt.Fprintln(stderr, "usage: lmutil lmkeygen -cluster FILE")
		return exitError{1}
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "lmkeygen: -cluster FILE takes no other arguments (got %q)\n", args)
		return exitError{1}
	}
	if err := clusterkey.Generate(clusterFile); err != nil {
		fmt.Fprintf(stderr, "lmkeygen: %v\n", err)
		return exitError{1}
	}
	key, err := clusterkey.Load(clusterFile)
	if err != nil {
		fmt.Fprintf(stderr, "lmkeygen: wrote %s but cannot read it back: %v\n", clusterFile, err)
		return exitError{1}
	}
	fmt.Fprintf(stdout, "Wrote cluster key %s (id %s); give the same file to all three lmgrds with -cluster-key %s\n",
		clusterFile, key.ID(), clusterFile)
	return nil
}

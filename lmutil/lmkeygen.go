package main

import (
	"fmt"
	"io"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/urfave/cli/v2"
)

func lmkeygenCommand() *cli.Command {
	return &cli.Command{
		Name:      "lmkeygen",
		Usage:     "make a cluster key for a triad, or a vendor's license signing key",
		ArgsUsage: "-cluster FILE | VENDOR DIR",
		Description: "-cluster FILE writes a new random cluster key to FILE (mode 0600; an\n" +
			"existing file is never overwritten). Give the same file to all three\n" +
			"lmgrds with -cluster-key FILE: they accept only peers holding it.\n\n" +
			"VENDOR DIR writes a new Ed25519 license signing key pair for VENDOR:\n" +
			"DIR/VENDOR.key, the private key (mode 0600; keep it with the vendor, it\n" +
			"signs licenses with lmcrypt), and DIR/VENDOR.pub, the public key that\n" +
			"lmcksum -vendor-keys checks signatures with. Existing files are never\n" +
			"overwritten.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cluster", Usage: "write a new cluster key to `FILE`"},
		},
		Action: func(c *cli.Context) error {
			return lmkeygen(c.App.Writer, c.App.ErrWriter, c.String("cluster"), c.Args().Slice())
		},
	}
}

// lmkeygen writes a new cluster key to clusterFile or, without it, a vendor
// signing key pair as args (VENDOR DIR) say.
func lmkeygen(stdout, stderr io.Writer, clusterFile string, args []string) error {
	if clusterFile == "" && len(args) == 2 {
		return lmkeygenVendor(stdout, stderr, args[0], args[1])
	}
	if clusterFile == "" {
		fmt.Fprintln(stderr, "lmkeygen: want -cluster FILE or VENDOR DIR")
		fmt.Fprintln(stderr, "usage: lmutil lmkeygen -cluster FILE | lmutil lmkeygen VENDOR DIR")
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

// lmkeygenVendor writes a new signing key pair for vendor into dir.
func lmkeygenVendor(stdout, stderr io.Writer, vendor, dir string) error {
	k, err := licsign.GenerateKey(vendor)
	if err == nil {
		var keyPath, pubPath string
		keyPath, pubPath, err = licsign.WriteKeyPair(dir, k)
		if err == nil {
			fmt.Fprintf(stdout, "Wrote %s (private: sign licenses with lmcrypt -key %s; keep it secret) and %s (public: lmcksum -vendor-keys %s)\n",
				keyPath, keyPath, pubPath, pubPath)
			return nil
		}
	}
	fmt.Fprintf(stderr, "lmkeygen: %v\n", err)
	return exitError{1}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// enrolPart is how much of a file one ENROL line carries: quoted, a byte
// takes at most four, which keeps the line under wire.MaxLine.
const enrolPart = (wire.MaxLine - 1024) / 4

// enrolTimeout bounds one file's enrolment: the server answers once the
// triad has committed and applied it.
const enrolTimeout = 20 * time.Second

func lmenrollCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmenroll",
		Usage:     "enrol license files in a triad: every member writes and serves them",
		UsageText: "lmenroll [-c port@host] FILE...",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.StringFlag{Name: "c", Usage: "license `PATH` naming the triad (port@host,port@host,port@host)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("lmenroll: name the license file(s) to enrol", 1)
			}
			t, err := resolveTarget(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			failed := 0
			for _, path := range c.Args().Slice() {
				data, err := os.ReadFile(path)
				if err != nil {
					fmt.Fprintf(c.App.ErrWriter, "lmenroll: %v\n", err)
					failed++
					continue
				}
				via, err := enrolFile(c.Context, t.servers, filepath.Base(path), data)
				if err != nil {
					fmt.Fprintf(c.App.ErrWriter, "lmenroll: %s: %v\n", path, err)
					failed++
					continue
				}
				fmt.Fprintf(c.App.Writer, "lmenroll: %s enrolled in the triad through %d@%s\n", filepath.Base(path), via.Port, via.Host)
			}
			if failed > 0 {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// enrolFile sends one file to the first member that takes it. A member
// that answers with a refusal (a bad line, a wrong SERVER line, not an
// administrator) is the answer; one that cannot be reached is passed by.
func enrolFile(ctx context.Context, servers []licfile.HostPort, name string, data []byte) (licfile.HostPort, error) {
	var lastErr error
	for _, hp := range servers {
		err := enrolAt(ctx, hp, name, data)
		if err == nil {
			return hp, nil
		}
		lastErr = err
		var refusal *wire.Error
		if errors.As(err, &refusal) && refusal.Code != wire.CodeServBusy {
			return hp, err
		}
	}
	return licfile.HostPort{}, lastErr
}

func enrolAt(ctx context.Context, hp licfile.HostPort, name string, data []byte) error {
	c, _, err := adminDial(ctx, hp, adminHello())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, enrolTimeout)
	defer cancel()
	parts := max(1, (len(data)+enrolPart-1)/enrolPart)
	for i := range parts {
		chunk := data[min(i*enrolPart, len(data)):min((i+1)*enrolPart, len(data))]
		req := wire.New("ENROL", "name", name, "part", strconv.Itoa(i), "parts", strconv.Itoa(parts), "text", string(chunk))
		if _, _, err := c.Call(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

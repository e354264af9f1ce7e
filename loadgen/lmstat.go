package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// lmstat runs `lmutil lmstat -a -c port@host` LmstatRuns times over the
// holders in place, times each run from exec to exit, and checks that its
// totals are the known number of holders (want, the feature's whole use).
func (g *gen) lmstat(ctx context.Context, want int) error {
	cfg, rep := g.cfg, g.rep
	var walls, exchanges Latencies
	for range cfg.LmstatRuns {
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, cfg.Lmutil, "lmstat", "-a", "-c", cfg.Server).Output()
		wall := time.Since(t0)
		if err != nil {
			return fmt.Errorf("loadgen: %s lmstat: %w", cfg.Lmutil, err)
		}
		walls = append(walls, wall)
		inuse, lines, err := lmstatTotals(out, cfg.Feature, cfg.UserPrefix)
		if err != nil {
			return err
		}
		rep.LmstatInUse, rep.LmstatLines = inuse, lines
		if inuse != want || lines != rep.Holders {
			g.fail(fmt.Errorf("lmstat: %d in use and %d user lines, want %d and %d", inuse, lines, want, rep.Holders))
		}
		// The server's share: one STATUS exchange, without lmutil's
		// process start and printing.
		if _, _, d, err := g.status(ctx); err == nil {
			exchanges = append(exchanges, d)
		} else {
			g.fail(err)
		}
	}
	rep.Lmstat = walls.Summarize()
	rep.Status = exchanges.Summarize()
	return nil
}

var usersOf = regexp.MustCompile(`^Users of ([^ ]+):  \(Total of (\d+) licenses? issued;  Total of (\d+) licenses? in use\)`)

// lmstatTotals reads lmstat -a output: the "in use" total of feature, and
// how many user lines name a user starting with prefix.
func lmstatTotals(out []byte, feature, prefix string) (inuse, lines int, err error) {
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := usersOf.FindStringSubmatch(line); m != nil {
			if m[1] == feature {
				inuse, _ = strconv.Atoi(m[3])
				found = true
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "    "); ok && strings.HasPrefix(rest, prefix) {
			lines++
		}
	}
	if !found {
		return 0, lines, fmt.Errorf("loadgen: lmstat output has no \"Users of %s:\" line", feature)
	}
	return inuse, lines, sc.Err()
}

// Package scripts holds the repository's scripts; this test runs the
// README's "Using it" commands on a fresh clone, as a newcomer would.
package scripts

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shBlock is the first ```sh block after the heading in the README.
func shBlock(t *testing.T, readme, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, heading)
	if !ok {
		t.Fatalf("README.md has no %q section", heading)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatalf("README.md's %q has no sh block", heading)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated sh block")
	}
	return block
}

// The README's commands, from clone to a checkout through a triad.
func TestReadmeCommandsRunOnAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the programs in a fresh clone")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("not a git checkout: nothing to clone")
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The single server, then the triad, in one clone, as a newcomer
	// follows them.
	block := shBlock(t, string(readme), "## Using it") + shBlock(t, string(readme), "## A triad")
	clone := filepath.Join(t.TempDir(), "lmtriad")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Whatever happened, no lmgrd of the README is left running.
		for _, server := range []string{"27000@127.0.0.1", "27100@127.0.0.1,27100@127.0.0.2,27100@127.0.0.3"} {
			_ = exec.Command(filepath.Join(clone, "bin", "lmutil"), "lmdown", "-q", "-c", server).Run()
		}
	})
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "LM_LICENSE_FILE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"lmgrd started in the background",
		"this command runs holding a solver license",
		"Users of solver:  (Total of 5 licenses issued;",
		"1 FlexNet-compatible License Server(s) shut down",
		"holding a solver license from the triad",
		"license server UP (MASTER)",
		"Cluster status: operational",
		"3 FlexNet-compatible License Server(s) shut down",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's commands did not print %q:\n%s", want, out)
		}
	}
}

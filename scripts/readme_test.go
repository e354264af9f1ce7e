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

// usingIt is the first ```sh block after "## Using it" in the README.
func usingIt(t *testing.T, readme string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "## Using it")
	if !ok {
		t.Fatal(`README.md has no "## Using it" section`)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatal(`README.md's "Using it" has no sh block`)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated sh block")
	}
	return block
}

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
	block := usingIt(t, string(readme))
	clone := filepath.Join(t.TempDir(), "lmtriad")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Whatever happened, no lmgrd of the README is left running.
		_ = exec.Command(filepath.Join(clone, "bin", "lmutil"), "lmdown", "-q", "-c", "27000@127.0.0.1").Run()
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
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's commands did not print %q:\n%s", want, out)
		}
	}
}

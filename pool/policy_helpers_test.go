package pool

import (
	"strings"
	"testing"

	"github.com/lmtriad/lmtriad/options"
)

// parsePolicy parses an options file given as text; it must have no error.
func parsePolicy(t testing.TB, text string) *options.Options {
	t.Helper()
	o, err := options.Parse("t.opt", strings.NewReader(text))
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	if err := o.Errors(); err != nil {
		t.Fatalf("options: %v", err)
	}
	return o
}

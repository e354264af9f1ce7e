package options

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestGolden parses each testdata/NAME.opt and compares a dump of the result
// with testdata/NAME.golden; -update rewrites the golden files. The dump has
// three parts: "# lines", each good line as "line: canonical text";
// "# problems", each problem as "severity file:line: msg" (file by base
// name); "# queries", answers to a few queries over the site's features.
// The canonical text must parse back to the same lines.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.opt")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			o, err := Parse(filepath.Base(path), bytes.NewReader(data))
			require.NoError(t, err)
			checkRoundTrip(t, o)
			compareGolden(t, strings.TrimSuffix(path, ".opt")+".golden", dump(o))
		})
	}
}

func dump(o *Options) []byte {
	var b bytes.Buffer
	b.WriteString("# lines\n")
	for _, l := range o.Lines {
		fmt.Fprintf(&b, "%d: %s\n", l.Pos.Line, l)
	}
	b.WriteString("# problems\n")
	for _, p := range o.Problems {
		fmt.Fprintf(&b, "%s %s\n", p.Severity, p.Error())
	}
	b.WriteString("# queries\n")
	features := []FeatureRef{
		{Name: "MATLAB", Attrs: map[string]string{"VERSION": "24", "SN": "1234567"}},
		{Name: "Simulink", Attrs: map[string]string{"VERSION": "9"}},
		{Name: "Compiler", Attrs: map[string]string{"VERSION": "1", "VENDOR_STRING": "site=north campus"}},
		{Name: "Signal_Toolbox"},
	}
	reqs := []Requester{
		{User: "ALICE", Host: "ws1", IP: "10.1.1.1"},
		{User: "erin", Host: "lab-pc1", IP: "192.168.3.4"},
		{User: "zoe", Host: "WS17.example.com", IP: "10.20.5.6", Project: "apollo"},
		{User: "trent", Host: "build02.example.com", IP: "10.20.1.1"},
		{User: "guest user", Host: "kiosk", Display: "kiosk:0", IP: "10.20.9.9"},
	}
	for _, f := range features {
		to, tok := o.Timeout(f)
		li, lok := o.Linger(f)
		od, odok := o.MaxOverdraft(f)
		lw, lwok := o.BorrowLowwater(f)
		bh, bhok := o.MaxBorrowHours(f)
		fmt.Fprintf(&b, "%s: timeout %v %v, linger %v %v, max_overdraft %d %v, borrow_lowwater %d %v, max_borrow_hours %d %v\n",
			f.Name, to, tok, li, lok, od, odok, lw, lwok, bh, bhok)
		for _, res := range o.Reservations(f) {
			fmt.Fprintf(&b, "  reserve %d for %s (%s)\n", res.Count, res.Entity, res.Pos)
		}
		for _, r := range reqs {
			code, why := o.Allowed(f, r)
			bcode, bwhy := o.BorrowAllowed(f, r)
			limit, ok := o.Max(f, r)
			fmt.Fprintf(&b, "  %s: use %d %q; borrow %d %q; max %d %v\n", r.User, code, why, bcode, bwhy, limit, ok)
		}
	}
	for k := LogIn; k < numLogKinds; k++ {
		fmt.Fprintf(&b, "nolog %s: %v\n", k, o.NoLog(k))
	}
	p, a, ok := o.ReportLog()
	fmt.Fprintf(&b, "reportlog %q %v %v\n", p, a, ok)
	p, a, ok = o.DebugLog()
	fmt.Fprintf(&b, "debuglog %q %v %v\n", p, a, ok)
	return b.Bytes()
}

func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./options -update to create it")
	assert.Equal(t, string(want), string(got), "output differs from %s (go test ./options -update rewrites it)", golden)
}

// checkRoundTrip checks that the canonical text of o parses to the same
// lines (but for positions) without errors, and prints the same again.
func checkRoundTrip(t testing.TB, o *Options) {
	t.Helper()
	text := o.String()
	o2, err := Parse("again.opt", strings.NewReader(text))
	require.NoError(t, err)
	for _, p := range o2.Problems {
		if p.Severity == Error {
			t.Fatalf("canonical text fails to parse: %v\n%s", p, text)
		}
	}
	require.Equal(t, len(o.Lines), len(o2.Lines), "canonical text:\n%s", text)
	for i := range o.Lines {
		a, b := o.Lines[i], o2.Lines[i]
		a.Pos, b.Pos = Pos{}, Pos{}
		require.Equal(t, a, b, "line %d of the canonical text:\n%s", i+1, text)
	}
	require.Equal(t, text, o2.String())
}

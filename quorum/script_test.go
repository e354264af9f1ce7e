package quorum

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	update  = flag.Bool("update", false, "rewrite quorum/testdata/*.txt with the actual output")
	runBugs = flag.Bool("bugs", false, "also run the scripts of scriptBugs (they fail until the bug is fixed)")
)

// scriptBugs are the scripts that show a known bug of the package: they are
// skipped unless -bugs is given. Remove an entry once the bug is fixed, and
// regenerate the script with -update.
var scriptBugs = map[string]string{}

// TestScripts runs the election scripts in testdata/*.txt on the simulator
// (cluster_test.go), in the manner of etcd's rafttest interaction tests.
//
// Format: lines starting with '#' are comments; blank lines separate; every
// other line is a command. A command that prints something is followed by a
// line "----", its expected output, and a blank line. Commands that print
// nothing have no "----". `go test ./quorum -run TestScripts -update`
// rewrites the expected output (comments and commands are kept).
//
// Commands (ranks are 0 primary, 1 secondary, 2 tertiary; time is in nominal
// ticks, 50 ms with FastTiming):
//
//	init [pim] [durable] [down=R,...] [rates=A,B,C] [latency=UNITS] [flexlm=SECONDS] [cap=N] [seed=N]
//	                      start a new triad; durable: a restart keeps what the
//	                      member's storage held (BoltStorage), else it starts
//	                      from fresh storage; latency in 1/1000 tick; cap is the
//	                      license table's capacity (default 5); seed (default 1)
//	                      restarts the random stream of raft's election timeouts,
//	                      so that every init is independent of what came before
//	tick N                advance real time by N nominal ticks
//	crash R...            stop servers (state lost)
//	restart R... [fresh] [hosts=a,b,c] [license=X]
//	                      start crashed servers afresh, optionally with other SERVER hosts
//	                      (in that order) or another license digest; fresh: from fresh
//	                      storage even in a durable triad (a lost -state directory)
//	partition 0 | 1 2     cut every link between the groups, heal inside them
//	isolate R / cut A B / cut-oneway FROM TO / heal [A B]
//	clock-rate R RATE     server R now ticks RATE times per nominal tick
//	wall-clock R OFFSET   server R's wall clock is now OFFSET (a Go duration, e.g.
//	                      1h0m5s or -2m) from the others' true time
//	deliver               deliver everything in flight (and replies) without time passing
//	await-serving R [max=N]
//	                      advance until R serves; print how long it took
//	propose N             the serving master proposes N grants (within capacity)
//	table                 print each server's license table: applied index, grants, log
//	status                print each server's view and the log lines since the last status
//	links R               print server R's link matrix (row a: what a hears)
//	skew R                print the skew server R measured of each peer's wall clock
//	licenses R            print the license digests server R knows, and whether in sync
//
// The invariants (cluster_test.go) are checked after every step; a violation
// is printed in the log and fails the test. Raft's randomized election
// timeouts are made deterministic with testing/cryptotest. Scripts listed in
// scriptBugs are skipped unless -bugs is given.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			if bug, ok := scriptBugs[name]; ok && !*runBugs {
				t.Skip(bug)
			}
			runScriptFile(t, file)
		})
	}
}

type scriptItem struct {
	line    string // comment, blank or command
	command bool
	want    string
	got     string
}

func parseScript(text string) []*scriptItem {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var items []*scriptItem
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" || strings.HasPrefix(line, "#") {
			items = append(items, &scriptItem{line: line})
			continue
		}
		it := &scriptItem{line: line, command: true}
		if i+1 < len(lines) && lines[i+1] == "----" {
			i += 2
			var out []string
			for ; i < len(lines) && lines[i] != ""; i++ {
				out = append(out, lines[i])
			}
			it.want = strings.Join(out, "\n")
		}
		items = append(items, it)
	}
	return items
}

func formatScript(items []*scriptItem) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.line + "\n")
		if it.command && it.got != "" {
			b.WriteString("----\n" + it.got + "\n\n")
		}
	}
	return b.String()
}

func runScriptFile(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	items := parseScript(string(data))
	s := &scriptRunner{t: t}
	var violations []string
	for _, it := range items {
		if !it.command {
			continue
		}
		if strings.HasPrefix(it.line, "init") && s.s != nil {
			violations = append(violations, s.s.violations...)
		}
		it.got = s.exec(it.line)
		if !*update && it.got != it.want {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", file, it.line, it.got, it.want)
		}
	}
	if s.s != nil {
		violations = append(violations, s.s.violations...)
	}
	if len(violations) > 0 {
		t.Errorf("%s: invariant violated:\n%s", file, strings.Join(violations, "\n"))
	}
	if *update {
		if err := os.WriteFile(file, []byte(formatScript(items)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptRunner struct {
	t      *testing.T
	s      *sim
	timing Timing
}

func (sr *scriptRunner) exec(line string) string {
	sr.t.Helper()
	args := strings.Fields(line)
	cmd, args := args[0], args[1:]
	if cmd != "init" && sr.s == nil {
		sr.t.Fatalf("%q before init", line)
	}
	fail := func(format string, a ...any) string {
		sr.t.Fatalf("%q: %s", line, fmt.Sprintf(format, a...))
		return ""
	}
	ranks := func(a []string) []int {
		var rs []int
		for _, x := range a {
			r, err := strconv.Atoi(x)
			if err != nil || r < 0 || r >= Size {
				fail("bad rank %q", x)
			}
			rs = append(rs, r)
		}
		return rs
	}
	s := sr.s
	switch cmd {
	case "init":
		o := simOpts{timing: FastTiming()}
		seed := uint64(1)
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			switch k {
			case "pim":
				o.pim = true
			case "durable":
				o.durable = true
			case "down":
				o.down = ranks(strings.Split(v, ","))
			case "rates":
				for i, x := range strings.Split(v, ",") {
					f, err := strconv.ParseFloat(x, 64)
					if err != nil || i >= Size || f <= 0 {
						return fail("bad rates %q", v)
					}
					o.rates[i] = f
				}
			case "latency":
				l, err := strconv.ParseInt(v, 10, 64)
				if err != nil || l < 0 {
					return fail("bad latency %q", v)
				}
				o.latency = l
			case "flexlm":
				sec, err := strconv.Atoi(v)
				if err != nil {
					return fail("bad flexlm %q", v)
				}
				o.timing = FlexLMTiming(sec)
			case "seed":
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return fail("bad seed %q", v)
				}
				seed = n
			case "cap":
				c, err := strconv.Atoi(v)
				if err != nil || c < 1 {
					return fail("bad cap %q", v)
				}
				o.capacity = c
			default:
				return fail("unknown option %q", a)
			}
		}
		sr.timing = o.timing
		setRandom(sr.t, seed)
		sr.s = newSim(sr.t, o)
	case "tick":
		if len(args) != 1 {
			return fail("want tick N")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 {
			return fail("bad tick count %q", args[0])
		}
		s.run(n)
	case "crash":
		for _, r := range ranks(args) {
			s.crash(r)
		}
	case "restart":
		// Options apply to this start only: the files are reset first.
		var rs []int
		for _, a := range args {
			if !strings.Contains(a, "=") && a != "fresh" {
				rs = append(rs, ranks([]string{a})...)
			}
		}
		for _, r := range rs {
			s.resetConfig(r)
		}
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			switch {
			case !ok && a != "fresh":
			case k == "hosts":
				hs := strings.Split(v, ",")
				if len(hs) != Size {
					return fail("want 3 hosts")
				}
				for _, r := range rs {
					copy(s.m[r].cfg.Hosts[:], hs)
				}
			case k == "license":
				for _, r := range rs {
					s.m[r].cfg.LicenseDigest = v
				}
			case k == "fresh" && v == "":
				for _, r := range rs {
					s.m[r].lose = true
				}
			default:
				return fail("unknown option %q", a)
			}
		}
		for _, r := range rs {
			s.restart(r)
		}
	case "partition":
		var groups [][]int
		var cur []int
		for _, a := range args {
			if a == "|" {
				groups, cur = append(groups, cur), nil
				continue
			}
			cur = append(cur, ranks([]string{a})...)
		}
		s.partition(append(groups, cur)...)
	case "isolate":
		for _, r := range ranks(args) {
			s.isolate(r)
		}
	case "cut", "cut-oneway", "heal":
		rs := ranks(args)
		switch {
		case cmd == "heal" && len(rs) == 0:
			s.healAll()
		case len(rs) != 2:
			return fail("want two ranks")
		case cmd == "cut":
			s.cutLink(rs[0], rs[1])
		case cmd == "cut-oneway":
			s.cutOneWay(rs[0], rs[1])
		default:
			s.healLink(rs[0], rs[1])
		}
	case "clock-rate":
		if len(args) != 2 {
			return fail("want clock-rate R RATE")
		}
		f, err := strconv.ParseFloat(args[1], 64)
		if err != nil || f <= 0 {
			return fail("bad rate %q", args[1])
		}
		s.setRate(ranks(args[:1])[0], f)
	case "wall-clock":
		if len(args) != 2 {
			return fail("want wall-clock R OFFSET")
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return fail("bad offset %q", args[1])
		}
		s.wall[ranks(args[:1])[0]] = d
	case "skew":
		r := ranks(args)
		if len(r) != 1 || s.m[r[0]].node == nil {
			return fail("want skew R of a running server")
		}
		st := s.m[r[0]].node.Status()
		var out []string
		for q := range Size {
			if q != st.Self {
				out = append(out, fmt.Sprintf("%s: %v over=%v", testHosts[q], st.Skew[q].Round(time.Second), st.SkewOver[q]))
			}
		}
		return strings.Join(out, "\n")
	case "licenses":
		r := ranks(args)
		if len(r) != 1 || s.m[r[0]].node == nil {
			return fail("want licenses R of a running server")
		}
		st := s.m[r[0]].node.Status()
		var out []string
		for q := range Size {
			d := st.PeerLicenseDigest[q]
			if d == "" {
				d = "-"
			}
			out = append(out, fmt.Sprintf("%s: %s", testHosts[q], d))
		}
		return strings.Join(append(out, fmt.Sprintf("in sync: %v", st.LicensesInSync())), "\n")
	case "deliver":
		s.deliver()
	case "await-serving":
		if len(args) < 1 {
			return fail("want await-serving R [max=N]")
		}
		r := ranks(args[:1])[0]
		maxTicks := 200
		for _, a := range args[1:] {
			v, ok := strings.CutPrefix(a, "max=")
			n, err := strconv.Atoi(v)
			if !ok || err != nil || n < 1 {
				return fail("bad option %q", a)
			}
			maxTicks = n
		}
		took, ok := s.runUntil(maxTicks, func() bool { return s.m[r].node != nil && s.m[r].node.Serving() })
		if !ok {
			return fmt.Sprintf("%s not serving after %d ticks", testHosts[r], maxTicks)
		}
		return fmt.Sprintf("%s serving after %.2f ticks (%v)", testHosts[r], took,
			time.Duration(took*float64(sr.timing.Tick)).Round(time.Millisecond))
	case "propose":
		if len(args) != 1 {
			return fail("want propose N")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return fail("bad count %q", args[0])
		}
		serving := s.servingRanks()
		if len(serving) != 1 {
			return "nobody serving: nothing proposed"
		}
		r := serving[0]
		var done []string
		var why error
		for range n {
			d, err := s.propose(r, true)
			if err != nil {
				why = err
				break
			}
			done = append(done, d)
		}
		s.flush(r) // the glue sends at once
		out := testHosts[r] + " proposes " + strings.Join(done, ",")
		if len(done) == 0 {
			out = testHosts[r] + " proposes nothing"
		}
		switch {
		case errors.Is(why, errCapacity):
			m := s.m[r]
			out += fmt.Sprintf("; %d refused: %d granted + %d in flight = capacity %d", n-len(done),
				m.tab.granted, m.pendGrants, s.o.capacity)
		case why != nil:
			out += fmt.Sprintf("; %d refused: %v", n-len(done), why)
		}
		return out
	case "table":
		return strings.Join(s.tableLines(), "\n")
	case "status":
		out := []string{"t=" + strings.TrimSpace(s.timeStr())}
		out = append(out, s.status()...)
		for _, l := range s.takeLog() {
			out = append(out, "  "+l)
		}
		return strings.Join(out, "\n")
	case "links":
		r := ranks(args)
		if len(r) != 1 || s.m[r[0]].node == nil {
			return fail("want links R of a running server")
		}
		st := s.m[r[0]].node.Status()
		out := []string{"   0 1 2"}
		for a := range Size {
			row := fmt.Sprintf("%d:", a)
			for b := range Size {
				row += " " + boolStr(st.Links[a][b])
			}
			out = append(out, row)
		}
		return strings.Join(out, "\n")
	default:
		return fail("unknown command")
	}
	return ""
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

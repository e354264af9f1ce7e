package quorum

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite quorum/testdata/*.txt with the actual output")

// TestScripts runs the election scripts in testdata/*.txt on the cluster harness.
//
// Format: lines starting with '#' are comments; blank lines separate; every
// other line is a command. A command that prints something is followed by a
// line "----", its expected output, and a blank line. Commands that print
// nothing have no "----". `go test ./quorum -update` rewrites the expected
// output (comments and commands are kept).
//
// Commands (ranks are 0 primary, 1 secondary, 2 tertiary; time is in nominal
// ticks of 50 ms with FastTiming):
//
//	init [pim] [down=R,...] [rates=A,B,C] [latency=UNITS] [flexlm=SECONDS]
//	                      start a new triad; latency in 1/1000 tick
//	tick N                advance real time by N nominal ticks
//	crash R...            stop servers (state lost)
//	restart R... [hosts=a,b,c] [license=X]
//	                      start crashed servers afresh, optionally with other SERVER hosts
//	                      (in that order) or another license digest
//	partition 0 | 1 2     cut every link between the groups, heal inside them
//	isolate R / cut A B / cut-oneway FROM TO / heal [A B]
//	clock-rate R RATE     server R now ticks RATE times per nominal tick
//	deliver               deliver everything in flight (and replies) without time passing
//	await-serving R [max=N]
//	                      advance until R serves; print how long it took
//	status                print each server's view and the log lines since the last status
//	links R               print server R's link matrix (row a: what a hears)
//
// The invariant (at most one server serving; none serving alone) is checked
// after every step; a violation is printed and fails the test.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
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
	for _, it := range items {
		if !it.command {
			continue
		}
		it.got = s.exec(it.line)
		if !*update && it.got != it.want {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", file, it.line, it.got, it.want)
		}
	}
	if s.c != nil && len(s.c.violations) > 0 {
		t.Errorf("%s: invariant violated:\n%s", file, strings.Join(s.c.violations, "\n"))
	}
	if *update {
		if err := os.WriteFile(file, []byte(formatScript(items)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptRunner struct {
	t      *testing.T
	c      *cluster
	timing Timing
}

func (s *scriptRunner) exec(line string) string {
	s.t.Helper()
	args := strings.Fields(line)
	cmd, args := args[0], args[1:]
	if cmd != "init" && s.c == nil {
		s.t.Fatalf("%q before init", line)
	}
	fail := func(format string, a ...any) string {
		s.t.Fatalf("%q: %s", line, fmt.Sprintf(format, a...))
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
	switch cmd {
	case "init":
		o := clusterOpts{timing: FastTiming()}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			switch k {
			case "pim":
				o.pim = true
			case "down":
				o.down = ranks(strings.Split(v, ","))
			case "rates":
				for i, x := range strings.Split(v, ",") {
					f, err := strconv.ParseFloat(x, 64)
					if err != nil || i >= Size {
						return fail("bad rates %q", v)
					}
					o.rates[i] = f
				}
			case "latency":
				l, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fail("bad latency %q", v)
				}
				o.latency = func() int64 { return l }
			case "flexlm":
				sec, err := strconv.Atoi(v)
				if err != nil {
					return fail("bad flexlm %q", v)
				}
				o.timing = FlexLMTiming(sec)
			default:
				return fail("unknown option %q", a)
			}
		}
		s.timing = o.timing
		s.c = newCluster(s.t, o)
	case "tick":
		if len(args) != 1 {
			return fail("want tick N")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return fail("%v", err)
		}
		s.c.run(n)
	case "crash":
		for _, r := range ranks(args) {
			s.c.crash(r)
		}
	case "restart":
		// Options apply to this start only: the files are reset first.
		var rs []string
		for _, a := range args {
			if !strings.Contains(a, "=") {
				for _, r := range ranks([]string{a}) {
					s.c.cfg[r].Hosts, s.c.cfg[r].ServerDigest, s.c.cfg[r].LicenseDigest = testHosts, "", ""
				}
			}
		}
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			switch {
			case !ok:
				rs = append(rs, a)
			case k == "hosts":
				hs := strings.Split(v, ",")
				if len(hs) != Size {
					return fail("want 3 hosts")
				}
				for _, r := range ranks(rs) {
					copy(s.c.cfg[r].Hosts[:], hs)
					s.c.cfg[r].ServerDigest = ""
				}
			case k == "license":
				for _, r := range ranks(rs) {
					s.c.cfg[r].LicenseDigest = v
				}
			default:
				return fail("unknown option %q", a)
			}
		}
		for _, r := range ranks(rs) {
			s.c.restart(r)
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
		s.c.net.Partition(append(groups, cur)...)
	case "isolate":
		for _, r := range ranks(args) {
			s.c.net.Isolate(r)
		}
	case "cut", "cut-oneway", "heal":
		rs := ranks(args)
		switch {
		case cmd == "heal" && len(rs) == 0:
			s.c.net.HealAll()
		case len(rs) != 2:
			return fail("want two ranks")
		case cmd == "cut":
			s.c.net.Cut(rs[0], rs[1])
		case cmd == "cut-oneway":
			s.c.net.CutOneWay(rs[0], rs[1])
		default:
			s.c.net.Heal(rs[0], rs[1])
		}
	case "clock-rate":
		if len(args) != 2 {
			return fail("want clock-rate R RATE")
		}
		f, err := strconv.ParseFloat(args[1], 64)
		if err != nil || f <= 0 {
			return fail("bad rate %q", args[1])
		}
		s.c.setRate(ranks(args[:1])[0], f)
	case "deliver":
		s.c.deliver()
	case "await-serving":
		if len(args) < 1 {
			return fail("want await-serving R [max=N]")
		}
		r := ranks(args[:1])[0]
		maxTicks := 200
		for _, a := range args[1:] {
			if v, ok := strings.CutPrefix(a, "max="); ok {
				maxTicks, _ = strconv.Atoi(v)
			}
		}
		took, ok := s.c.runUntil(maxTicks, func() bool { return s.c.nodes[r] != nil && s.c.nodes[r].Serving() })
		if !ok {
			return fmt.Sprintf("%s not serving after %d ticks", testHosts[r], maxTicks)
		}
		return fmt.Sprintf("%s serving after %.2f ticks (%v)", testHosts[r], took,
			time.Duration(took*float64(s.timing.Tick)).Round(time.Millisecond))
	case "status":
		out := []string{"t=" + strings.TrimSpace(s.c.timeStr())}
		out = append(out, s.c.status()...)
		for _, l := range s.c.takeLog() {
			out = append(out, "  "+l)
		}
		return strings.Join(out, "\n")
	case "links":
		r := ranks(args)
		if len(r) != 1 || s.c.nodes[r[0]] == nil {
			return fail("want links R of a running server")
		}
		st := s.c.nodes[r[0]].Status()
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

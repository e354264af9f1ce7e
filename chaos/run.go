package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure one chaos run.
type Options struct {
	// Bin holds lmgrd, vendord, lmutil and lmchaos (go build -o Bin
	// ./lmgrd ./vendord ./lmutil ./chaos/cmd/lmchaos).
	Bin string
	// Dir receives the license files, logs and history; kept after the run.
	Dir string
	// Duration is how long the nemesis runs.
	Duration time.Duration
	// Tail is how long the healed cluster serves before the workload stops,
	// so every Lost can end (check b) and every heal be judged (check c).
	Tail time.Duration
	// Seed fixes the nemesis plan and the clients' random choices.
	Seed uint64
	// Licenses is the feature's count.
	Licenses int
	// Faults are the kinds the nemesis draws from (AllFaults by default).
	Faults []string
	// First are the kinds of the plan's first episodes, in order (the short
	// test makes sure of its rogue peers this way); the rest are drawn.
	First []string
	// EnrolHandEdits: some enrol-partition episodes also edit the cut-off
	// member's copy of the file by hand (a conflicting copy, check f).
	EnrolHandEdits bool
	Workload       WorkloadOptions
	Check          CheckOptions
	// Out receives the plan, the nemesis' actions and the report.
	Out io.Writer
}

// DefaultOptions is the long form's configuration (10 minutes).
func DefaultOptions() Options {
	return Options{
		Duration:       10 * time.Minute,
		Tail:           5 * time.Second,
		Seed:           uint64(time.Now().UnixNano()),
		Licenses:       50,
		Faults:         AllFaults,
		EnrolHandEdits: true,
		Workload:       DefaultWorkload(),
		Check: CheckOptions{
			RegainWithin: 3 * time.Second,
			ResumeWithin: 2 * time.Second,
		},
		Out: os.Stdout,
	}
}

// Run sets up the namespaces, starts the triad and the workload, runs the
// nemesis, then checks the history. The namespaces and every process are
// gone when it returns, also on error or when ctx is cancelled (SIGINT,
// SIGTERM); an earlier run that died without cleaning up is cleaned first.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
	if why := HaveNetns(); why != "" {
		return nil, fmt.Errorf("chaos: network namespaces unavailable: %s", why)
	}
	CleanupStale(logf)
	o.Check.Licenses = o.Licenses
	if len(o.Faults) == 0 {
		o.Faults = AllFaults
	}
	for _, k := range append(append([]string(nil), o.Faults...), o.First...) {
		if !KnownFault(k) {
			return nil, fmt.Errorf("chaos: unknown fault kind %q (known: %s)", k, strings.Join(AllFaults, ", "))
		}
	}
	minGap := o.Check.ResumeWithin + 500*time.Millisecond
	plan := PlanFirst(o.Seed, o.Duration, o.First, o.Faults, minGap)
	PrintPlan(o.Out, o.Seed, plan)

	// Stop on SIGINT/SIGTERM like on ctx: the deferred teardown runs.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	octet := int(o.Seed%250) + 1
	nw, err := SetupNetwork(octet)
	if err != nil {
		return nil, err
	}
	defer nw.Teardown()
	logf("network: namespaces %s-{br,a,b,c,cl}, members %s.1-3, clients %s.10", nw.Prefix, nw.Subnet, nw.Subnet)

	cl := &Cluster{Bin: o.Bin, Dir: o.Dir, Net: nw, Licenses: o.Licenses}
	defer cl.Stop()
	if err := cl.WriteLicenses(); err != nil {
		return nil, err
	}
	for i := range 3 {
		if err := cl.Start(i); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for cl.Master(ctx) < 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("chaos: the triad elected no master within 20s; logs in %s", o.Dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	logf("triad up: %s", cl.LicensePath())

	histPath := filepath.Join(o.Dir, "history.jsonl")
	wl, wlDone, err := startWorkload(o, cl, histPath)
	if err != nil {
		return nil, err
	}
	defer func() {
		select {
		case <-wlDone:
		default:
			_ = syscall.Kill(-wl.Process.Pid, syscall.SIGKILL)
			<-wlDone
		}
	}()
	logf("workload: %d clients, feature %s with %d licenses, pid %d", o.Workload.Clients, Feature, o.Licenses, wl.Process.Pid)
	if !sleep(ctx, 2*time.Second) {
		return nil, ctx.Err()
	}

	nf, err := os.Create(filepath.Join(o.Dir, "nemesis.jsonl"))
	if err != nil {
		return nil, err
	}
	defer nf.Close()
	nrec := NewRecorder(nf)
	nem := &Nemesis{Cluster: cl, Rec: nrec, Logf: logf, NoHandEdits: !o.EnrolHandEdits}
	nem.Start()
	defer nem.Close()
	nemCtx, cancelNem := context.WithTimeout(ctx, o.Duration)
	nem.Run(nemCtx, o.Seed, plan)
	cancelNem()
	if ctx.Err() != nil {
		return nil, ctx.Err() // interrupted: the defers clean up
	}
	nem.Heal()
	if err := nrec.Flush(); err != nil {
		return nil, err
	}
	select {
	case <-wlDone:
		return nil, fmt.Errorf("chaos: the workload exited early: %v (see %s)", wl.ProcessState, filepath.Join(o.Dir, "workload.log"))
	default:
	}
	sleep(ctx, o.Tail)

	// SIGTERM: the clients finish their operation, check in and close.
	_ = wl.Process.Signal(syscall.SIGTERM)
	select {
	case <-wlDone:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-wl.Process.Pid, syscall.SIGKILL)
		<-wlDone
		return nil, errors.New("chaos: the workload did not stop within 30s of SIGTERM")
	}
	if !wl.ProcessState.Success() {
		return nil, fmt.Errorf("chaos: workload: %v (see %s)", wl.ProcessState, filepath.Join(o.Dir, "workload.log"))
	}

	crashes := nem.CrashEpisodes() // a restart's takeover may still have been awaited
	enrols := nem.EnrolEpisodes()
	if final := nem.FinalEnrolment(ctx); final != nil {
		enrols = append(enrols, *final)
		if final.Converged != 0 {
			logf("enrolment: the members' license directories hold the %d files enrolled in the run (%.3fs into the last look)", len(final.Want), time.Duration(final.Converged-final.Heal).Seconds())
		} else {
			logf("enrolment: the members' license directories are not in line after a last look of %v", ConvergeWithin)
		}
	}
	var h History
	for _, p := range []string{histPath, filepath.Join(o.Dir, "nemesis.jsonl")} {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		part, err := ReadHistory(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		h = append(h, part...)
	}
	rep = Check(h, o.Check)
	CheckRoguePeers(rep, nem.Rogues)
	CheckCrashes(rep, h, crashes, o.Licenses)
	CheckEnrolments(rep, enrols)
	var kinds []string
	total := 0
	for k, n := range nem.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(o.Out, "\nseed %d: faults injected %d (%s); nemesis actions %d\n", o.Seed, total, strings.Join(kinds, ", "), rep.Faults)
	rep.Print(o.Out, 10)
	return rep, nil
}

// startWorkload runs "lmchaos workload" in the clients' namespace, in its
// own process group (so a timeout can kill it whole) and with Pdeathsig
// (so it dies with us).
func startWorkload(o Options, cl *Cluster, histPath string) (*exec.Cmd, chan struct{}, error) {
	w := o.Workload
	logf, err := os.Create(filepath.Join(o.Dir, "workload.log"))
	if err != nil {
		return nil, nil, err
	}
	args := []string{"netns", "exec", cl.Net.ClientNS(), filepath.Join(o.Bin, "lmchaos"), "workload",
		"-path", cl.LicensePath(), "-out", histPath, "-clients", strconv.Itoa(w.Clients),
		"-seed", strconv.FormatUint(o.Seed, 10),
		"-hold-min", w.HoldMin.String(), "-hold-max", w.HoldMax.String(), "-think-max", w.ThinkMax.String(),
		"-long-hold", strconv.FormatFloat(w.LongHold, 'f', -1, 64), "-long-min", w.LongMin.String(), "-long-max", w.LongMax.String(),
		"-denied-min", w.DeniedMin.String(), "-denied-max", w.DeniedMax.String(), "-error-max", w.ErrorMax.String(),
		"-heartbeat", w.HeartbeatInterval.String(), "-request-timeout", w.RequestTimeout.String(),
		"-dial-timeout", w.DialTimeout.String(), "-retry", w.RetryInterval.String(), "-op-timeout", w.OpTimeout.String(),
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	return cmd, done, nil
}

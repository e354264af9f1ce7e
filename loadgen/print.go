package main

import (
	"fmt"
	"strings"
)

// print writes the report: readable lines, then one RESULT line of
// key=value pairs for scripts.
func (g *gen) print() {
	w, rep, cfg := g.cfg.Out, g.rep, g.cfg
	res := []string{"RESULT", "mode=" + rep.Mode}
	add := func(k string, v any) { res = append(res, fmt.Sprintf("%s=%v", k, v)) }
	switch rep.Mode {
	case ModeChurn:
		paced := "back to back"
		if cfg.Rate > 0 {
			paced = fmt.Sprintf("paced to %.0f pairs/s, %d started >1ms late", cfg.Rate, rep.Late)
		}
		fmt.Fprintf(w, "churn: %d workers (%s) for %.2fs: %d pairs, %.0f pairs/s, %d errors\n",
			cfg.Concurrency, paced, rep.Elapsed.Seconds(), rep.Pairs, rep.PairsPerSec, rep.Errors)
		fmt.Fprintf(w, "  checkout:          %v\n", rep.Checkout)
		fmt.Fprintf(w, "  checkout+checkin:  %v\n", rep.Pair)
		fmt.Fprintf(w, "  cpu: server %.2f cores (%.1f µs a pair), loadgen %.2f cores (%.1f µs a pair)\n",
			rep.ServerCores, perPair(rep.ServerCores, rep.PairsPerSec), rep.GenCores, perPair(rep.GenCores, rep.PairsPerSec))
		add("workers", cfg.Concurrency)
		add("rate", cfg.Rate)
		add("late", rep.Late)
		add("pairs", rep.Pairs)
		add("pairs_per_s", fmt.Sprintf("%.0f", rep.PairsPerSec))
		add("checkout_p50_ms", msNum(rep.Checkout.P50))
		add("checkout_p99_ms", msNum(rep.Checkout.P99))
		add("checkout_p999_ms", msNum(rep.Checkout.P999))
		add("pair_p50_ms", msNum(rep.Pair.P50))
		add("pair_p99_ms", msNum(rep.Pair.P99))
		add("pair_p999_ms", msNum(rep.Pair.P999))
		add("server_cores", fmt.Sprintf("%.2f", rep.ServerCores))
		add("loadgen_cores", fmt.Sprintf("%.2f", rep.GenCores))
		add("server_us_per_pair", fmt.Sprintf("%.1f", perPair(rep.ServerCores, rep.PairsPerSec)))
	default:
		fmt.Fprintf(w, "%s: %d of %d clients hold a license (connected in %.2fs, %.0f/s), %d errors\n",
			rep.Mode, rep.Holders, cfg.Clients, rep.ConnectTime.Seconds(),
			float64(rep.Holders)/max(rep.ConnectTime.Seconds(), 1e-9), rep.Errors)
		fmt.Fprintf(w, "  connect+checkout:  %v\n", rep.Connect)
		fmt.Fprintf(w, "  server STATUS: %d more in use\n", rep.StatusInUse)
		add("holders", rep.Holders)
		add("connect_s", fmt.Sprintf("%.2f", rep.ConnectTime.Seconds()))
		add("connect_p99_ms", msNum(rep.Connect.P99))
		if rep.Mode == ModeLmstat {
			fmt.Fprintf(w, "  lmutil lmstat -a:  %v (in use %d, %d user lines)\n", rep.Lmstat, rep.LmstatInUse, rep.LmstatLines)
			fmt.Fprintf(w, "  STATUS exchange:   %v\n", rep.Status)
			add("lmstat_p50_ms", msNum(rep.Lmstat.P50))
			add("lmstat_max_ms", msNum(rep.Lmstat.Max))
			add("status_p50_ms", msNum(rep.Status.P50))
			add("lmstat_inuse", rep.LmstatInUse)
			add("lmstat_lines", rep.LmstatLines)
		}
	}
	if len(g.pids) > 0 {
		base, load := rep.Baseline, rep.Loaded
		fmt.Fprintf(w, "  server: rss %s, fds %d (%s)\n", mib(load.RSSKiB), load.FDs, procs(load))
		add("server_rss_kib", load.RSSKiB)
		add("server_fds", load.FDs)
		// Only a fresh server has a meaningful baseline; the lmstat run
		// follows others whose memory the server has not given back.
		if rep.Mode == ModeHold && rep.Holders > 0 && base.RSSKiB > 0 {
			per := float64(load.RSSKiB-base.RSSKiB) / float64(rep.Holders) * 10000
			fmt.Fprintf(w, "  server: baseline rss %s; +%s per 10,000 holders (%.1f KiB each)\n",
				mib(base.RSSKiB), mib(int64(per)), per/10000)
			add("server_rss_base_kib", base.RSSKiB)
			add("rss_per_10k_kib", fmt.Sprintf("%.0f", per))
		}
		if cfg.Hold > 0 && rep.Mode != ModeChurn {
			fmt.Fprintf(w, "  server while holding %v: %.3f cores, rss %s after\n", cfg.Hold, rep.HoldCPUCores, mib(rep.AfterHold.RSSKiB))
			add("hold_cores", fmt.Sprintf("%.3f", rep.HoldCPUCores))
			add("server_rss_after_hold_kib", rep.AfterHold.RSSKiB)
		}
	}
	fmt.Fprintf(w, "  loadgen: rss %s\n", mib(rep.GeneratorRSS))
	add("loadgen_rss_kib", rep.GeneratorRSS)
	add("errors", rep.Errors)
	for _, e := range rep.FirstErrs {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	fmt.Fprintln(w, strings.Join(res, " "))
}

// perPair is the CPU time one pair costs, in µs, from cores busy at a rate.
func perPair(cores, pairsPerSec float64) float64 {
	if pairsPerSec <= 0 {
		return 0
	}
	return cores / pairsPerSec * 1e6
}

func procs(s Sample) string {
	var parts []string
	for _, p := range s.Procs {
		parts = append(parts, fmt.Sprintf("%s[%d] rss %s fds %d threads %d", p.Name, p.PID, mib(p.RSSKiB), p.FDs, p.Threads))
	}
	return strings.Join(parts, ", ")
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func msNum(d interface{ Seconds() float64 }) string {
	return fmt.Sprintf("%.3f", d.Seconds()*1000)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/lmstat"
	"github.com/lmtriad/lmtriad/wire"
)

// allFeatures stands for a bare -f or -i: every feature.
const allFeatures = "\x00all"

func lmstatCommand(env *environment) *cli.Command {
	return &cli.Command{
		Name:      "lmstat",
		Usage:     "report the status of license servers and who holds which licenses",
		UsageText: "lmstat [-a] [-A] [-asec] [-c port@host|file] [-f [feature]] [-S [vendor]] [-i [feature]] [-s] [-t seconds] [-v]",
		Before:    withAdminLogin(env),
		Flags: []cli.Flag{
			passwordFileFlag(),
			&cli.BoolFlag{Name: "a", Usage: "display everything"},
			&cli.StringFlag{Name: "c", Usage: "license `PATH`: port@host, triad, file or directory"},
			&cli.StringFlag{Name: "f", Usage: "users of `FEATURE` (all features when bare)"},
			&cli.StringFlag{Name: "S", Usage: "users of `VENDOR`'s features"},
			&cli.StringFlag{Name: "i", Usage: "FEATURE/INCREMENT lines of the license file (not from the server)"},
			&cli.BoolFlag{Name: "s", Usage: "server status only"},
			&cli.BoolFlag{Name: "v", Usage: "print lmstat's version"},
			&cli.BoolFlag{Name: "named", Usage: "list the named users of USER_BASED and HOST_BASED features, with their last use"},
			&cli.BoolFlag{Name: "pid", Usage: "show client PIDs on user lines (as FlexLM v11.19)"},
			&cli.BoolFlag{Name: "A", Usage: "only the features with licenses in use"},
			&cli.BoolFlag{Name: "i-expires-first", Usage: "lmstat -i in the older column order (Expires before Vendor)"},
			&cli.BoolFlag{Name: "asec", Usage: "checkout times with seconds"},
			&cli.IntFlag{Name: "t", Usage: "give up on a server after `SECONDS`"},
		},
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			if c.Bool("v") {
				fmt.Fprintln(w, lmstat.VersionBanner(env.program("lmstat"), wire.Version))
				return nil
			}
			if c.IsSet("i") {
				return lmstatIncrements(c.Context, w, c.String("c"), c.String("i"), env, c.Bool("i-expires-first"))
			}
			targets, err := resolveTargets(c.String("c"), env.getenv)
			if err != nil {
				return err
			}
			opts := lmstat.Options{All: c.Bool("a") || c.Bool("A"), Servers: c.Bool("s"), ShowPID: c.Bool("pid"), Named: c.Bool("named"),
				ActiveOnly: c.Bool("A"), Seconds: c.Bool("asec")}
			if secs := c.Int("t"); secs > 0 {
				ctx, cancel := context.WithTimeout(c.Context, time.Duration(secs)*time.Second)
				defer cancel()
				c.Context = ctx
			}
			if c.IsSet("f") {
				opts.FeatureSet = true
				if f := c.String("f"); f != allFeatures {
					opts.Feature = f
				}
			}
			if c.IsSet("S") {
				opts.Vendor = c.String("S")
				if opts.Vendor == allFeatures {
					opts.Vendor, opts.All = "", true
				}
			}
			// Each entry of a path list in order; the status is had when
			// any entry answered in full.
			var reports []lmstat.Report
			answered := false
			for _, t := range targets {
				report := gatherStatus(c.Context, t, opts.Feature, env.now())
				report.Program = env.program("lmutil")
				reports = append(reports, report)
				answered = answered || report.ConnectErr == "" && !report.Incomplete
			}
			if err := lmstat.WriteAll(w, reports, opts); err != nil {
				return err
			}
			if !answered {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// triadMembers are the SERVER records of an INFO answer, when they name
// a triad.
func triadMembers(recs []wire.Message) []licfile.HostPort {
	var out []licfile.HostPort
	for _, rec := range recs {
		if rec.Verb != "SERVER" {
			continue
		}
		port, err := rec.Int("port")
		if err != nil || rec.Get("host") == "" {
			return nil
		}
		out = append(out, licfile.HostPort{Host: rec.Get("host"), Port: port})
	}
	return out
}

// gatherStatus asks every server of t for its view (INFO), then the
// master's vendor daemons for their features and holders (STATUS).
func gatherStatus(ctx context.Context, t target, feature string, now time.Time) lmstat.Report {
	r := lmstat.Report{Now: now}
	master := -1
	firstUp := -1
	var infos = make([]wire.Message, len(t.servers))
	var records = make([][]wire.Message, len(t.servers))
	var firstErr error
	for i, hp := range t.servers {
		s := lmstat.Server{Host: hp.Host, Port: hp.Port}
		resp, recs, err := adminCall(ctx, hp, "", wire.New("INFO"))
		if err != nil {
			s.Err = err.Error()
			if firstErr == nil {
				firstErr = err
			}
		} else {
			s.Up = true
			s.Version = resp.Get("version")
			s.Master = resp.Get("role") == "master"
			infos[i], records[i] = resp, recs
			if s.Master && master < 0 {
				master = i
			}
			if firstUp < 0 {
				firstUp = i
			}
		}
		r.Servers = append(r.Servers, s)
	}
	if firstUp < 0 {
		r.ConnectErr = firstErr.Error()
		return r
	}
	if len(t.servers) == 1 {
		// One member of a triad named (-c port@standby): like FlexLM, which
		// gets the license file from the server, ask all three, so that the
		// master answers and is marked.
		if members := triadMembers(records[0]); len(members) == 3 {
			return gatherStatus(ctx, target{spec: t.spec, servers: members}, feature, now)
		}
	}
	about := master
	if about < 0 {
		about = firstUp
	}
	r.FileHost = t.servers[about].Host
	r.LicenseFile = infos[about].Get("files")
	if len(t.servers) == 3 {
		r.Cluster = clusterOf(infos[about], records[about])
		withOwnWord(r.Cluster, t, records, about)
	}
	if master < 0 {
		// No master: nobody serves. Show the servers and say so per vendor.
		for _, rec := range records[about] {
			if rec.Verb == "VENDOR" {
				r.Vendors = append(r.Vendors, lmstat.Vendor{Name: rec.Get("name"), Err: wire.NewError(wire.CodeServBusy, 1).Error()})
			}
		}
		r.Incomplete = true
		return r
	}
	r.VendorHost = t.servers[master].Host
	for _, rec := range records[master] {
		if rec.Verb != "VENDOR" {
			continue
		}
		v := lmstat.Vendor{Name: rec.Get("name"), Up: rec.Get("up") == "1", Version: rec.Get("version")}
		if v.Up {
			req := wire.New("STATUS")
			if feature != "" {
				req.Set("feature", feature)
			}
			resp, recs, err := adminCall(ctx, t.servers[master], v.Name, req)
			if err != nil {
				v.Up, v.Err = false, err.Error()
				r.Incomplete = true // up, but no status: never a silent exit 0
			} else {
				v.Unsigned = resp.Get("unsigned") == "1" // lmgrd -unsigned
				r.Features = append(r.Features, featuresOf(v.Name, recs)...)
				for _, rec := range recs {
					if rec.Verb == "SKIPPED" {
						r.Skipped = append(r.Skipped, rec.Get("text"))
					}
				}
			}
		}
		r.Vendors = append(r.Vendors, v)
	}
	return r
}

// featuresOf turns STATUS records into lmstat's features.
func featuresOf(vendor string, recs []wire.Message) []lmstat.Feature {
	var out []lmstat.Feature
	for _, rec := range recs {
		switch rec.Verb {
		case "FEATURE":
			issued, _ := rec.Int("issued")
			inUse, _ := rec.Int("inuse")
			out = append(out, lmstat.Feature{Name: rec.Get("name"), Issued: issued, InUse: inUse,
				Uncounted: rec.Get("uncounted") == "1", Vendor: vendor, Err: rec.Get("err")})
		case "NAMED":
			if len(out) == 0 {
				continue
			}
			last, _ := strconv.ParseInt(rec.Get("last_used"), 10, 64)
			f := &out[len(out)-1]
			f.Named = append(f.Named, lmstat.NamedUser{User: rec.Get("user"), LastUsed: time.Unix(last, 0)})
		case "POOL":
			if len(out) == 0 {
				continue
			}
			f := &out[len(out)-1]
			f.Pools = append(f.Pools, lmstat.Pool{Name: rec.Get("feature"), Version: rec.Get("version"),
				Vendor: rec.Get("vendor"), Expiry: rec.Get("expiry"), VendorString: rec.Get("vendor_string"),
				NodeLocked: rec.Get("hostid"), Uncounted: rec.Get("uncounted") == "1"})
		case "RESERVATION":
			if len(out) == 0 || len(out[len(out)-1].Pools) == 0 {
				continue
			}
			pools := out[len(out)-1].Pools
			p := &pools[len(pools)-1]
			count, _ := rec.Int("count")
			port, _ := rec.Int("port")
			p.Reservations = append(p.Reservations, lmstat.Reservation{Count: count, Type: rec.Get("type"), Name: rec.Get("name"),
				Server: rec.Get("server"), Port: port})
		case "HOLDER":
			if len(out) == 0 || len(out[len(out)-1].Pools) == 0 {
				continue
			}
			pools := out[len(out)-1].Pools
			p := &pools[len(pools)-1]
			port, _ := rec.Int("port")
			handle, _ := rec.Uint64("handle")
			start, _ := strconv.ParseInt(rec.Get("start"), 10, 64)
			count, _ := rec.Int("count")
			pid, _ := rec.Int("pid")
			linger, _ := rec.Int("linger")
			left, _ := rec.Int("linger_left")
			hl := lmstat.Holder{User: rec.Get("user"), Host: rec.Get("host"),
				Display: rec.Get("display"), Version: rec.Get("version"), Server: rec.Get("server"), Port: port,
				Handle: handle, Start: time.Unix(start, 0), Count: count, PID: pid,
				Linger: time.Duration(linger) * time.Second, LingerLeft: time.Duration(left) * time.Second}
			if until, err := strconv.ParseInt(rec.Get("borrowed_until"), 10, 64); err == nil && until > 0 {
				hl.BorrowedUntil = time.Unix(until, 0)
			}
			p.Holders = append(p.Holders, hl)
		case wire.RecQueued:
			if len(out) == 0 {
				continue
			}
			f := &out[len(out)-1]
			port, _ := rec.Int("port")
			handle, _ := rec.Uint64("handle")
			start, _ := strconv.ParseInt(rec.Get("start"), 10, 64)
			count, _ := rec.Int("count")
			pid, _ := rec.Int("pid")
			f.Queued = append(f.Queued, lmstat.Holder{User: rec.Get("user"), Host: rec.Get("host"),
				Display: rec.Get("display"), Version: rec.Get("version"), Server: rec.Get("server"), Port: port,
				Handle: handle, Start: time.Unix(start, 0), Count: count, PID: pid})
		}
	}
	return out
}

func clusterOf(info wire.Message, recs []wire.Message) *lmstat.Cluster {
	c := &lmstat.Cluster{State: info.Get("cluster")}
	c.Enrolled = info.Get("enrolled")
	for _, rec := range recs {
		switch rec.Verb {
		case "LINK":
			c.Links = append(c.Links, lmstat.Link{From: rec.Get("from"), To: rec.Get("to"), Up: rec.Get("up") == "1", Why: rec.Get("why")})
		case "MEMBER":
			m := lmstat.Member{Host: rec.Get("host"), Digest: rec.Get("digest")}
			if n := rec.Get("notes"); n != "" {
				m.Notes = strings.Split(n, "; ")
			}
			c.Members = append(c.Members, m)
		}
	}
	if c.State == "" {
		c.State = lmstat.ClusterNotOperational
	}
	return c
}

// withOwnWord adds to each member's line what that member says of itself,
// when it answered and the paragraph comes from another server: a member
// knows best what is wrong with it (a raft log it cannot write) while its
// peers see only that it is unreachable.
func withOwnWord(c *lmstat.Cluster, t target, records [][]wire.Message, about int) {
	for i, recs := range records {
		if i == about || i >= len(t.servers) {
			continue
		}
		host := t.servers[i].Host
		for _, rec := range recs {
			if rec.Verb != "MEMBER" || rec.Get("host") != host {
				continue
			}
			for k := range c.Members {
				m := &c.Members[k]
				if m.Host != host {
					continue
				}
				if m.Digest == "" {
					m.Digest = rec.Get("digest")
				}
				if n := rec.Get("notes"); n != "" {
					for _, note := range strings.Split(n, "; ") {
						if !slices.Contains(m.Notes, note) {
							m.Notes = append(m.Notes, note)
						}
					}
				}
			}
		}
	}
}

// lmstatIncrements prints lmstat -i: the FEATURE/INCREMENT lines of the
// license file, read locally.
func lmstatIncrements(ctx context.Context, w io.Writer, spec, feature string, env *environment, oldLayout bool) error {
	files, err := licenseFiles(ctx, spec, env.getenv)
	if err != nil && len(files) == 0 {
		return err
	}
	var lines []lmstat.IncrementLine
	for _, f := range files {
		for _, ft := range f.Features {
			if feature != "" && feature != allFeatures && ft.Name != feature {
				continue
			}
			lines = append(lines, lmstat.IncrementLine{Feature: ft.Name, Version: ft.Version, Count: ft.Count,
				Expires: ft.ExpiryText, Vendor: ft.Vendor})
		}
	}
	if len(lines) == 0 && feature != "" && feature != allFeatures {
		return errors.New(wire.NewError(wire.CodeNoFeature, 1).Error())
	}
	return lmstat.WriteIncrementsReport(w, lmstat.IncrementsReport{Program: env.program("lmutil"), Now: env.now(),
		Lines: lines, ExpiresFirst: oldLayout})
}

package main

import (
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"

	"github.com/lmtriad/lmtriad/wire"
)

// status answers STATUS: one FEATURE record per feature name, then a POOL
// record per pool and a HOLDER record per holder of that pool, then a
// QUEUED record per queued checkout request of the feature, head first; a
// NAMED record per named user of a USER_BASED or HOST_BASED feature comes
// just after its FEATURE record (user=, last_used= Unix seconds). The records
// are built under the lock so lmstat's figures are exact at one moment.
func (d *daemon) status(feature string) (wire.Message, []wire.Message) {
	d.mu.Lock()
	features := d.pool.Status(feature)
	named := map[string][]pool.NamedUser{} // feature name -> its named users
	for _, f := range features {
		named[f.Name] = d.pool.NamedUsers(f.Name)
	}
	borrowed := d.pool.Borrowed()
	d.mu.Unlock()

	var records []wire.Message
	server, port := d.opts.ServerHost, strconv.Itoa(d.opts.ServerPort)
	now := d.now()
	today := licfile.DateOf(now.In(time.Local)) // the pool's dates are local calendar days
	for _, f := range features {
		issued, why := servingIssued(f, today)
		rec := wire.New("FEATURE", "name", f.Name,
			"issued", strconv.Itoa(issued), "inuse", strconv.Itoa(f.InUse), "uncounted", boolDigit(f.Uncounted))
		if why != "" {
			rec.Set("err", why) // lmstat: "(Error: N licenses, expired on ... (-10))"
		}
		records = append(records, rec)
		for _, n := range named[f.Name] {
			records = append(records, wire.New("NAMED", "feature", f.Name, "user", n.User,
				"last_used", strconv.FormatInt(n.LastUsed.Unix(), 10)))
		}
		for _, p := range f.Pools {
			expiry := ""
			if !p.Pool.Expiry.IsZero() {
				expiry = p.Pool.Expiry.String()
			}
			records = append(records, wire.New("POOL", "feature", f.Name, "version", p.Pool.Version,
				"vendor", p.Pool.Vendor, "expiry", expiry, "count", strconv.Itoa(p.Pool.Count),
				"inuse", strconv.Itoa(p.InUse), "uncounted", boolDigit(p.Pool.Uncounted),
				"vendor_string", p.Pool.VendorString, "hostid", p.Pool.HostID))
			for _, r := range p.Reservations {
				// Only what is still set aside: a reserved license in use
				// shows as its user's line.
				if free := r.Count - r.Used; free > 0 {
					records = append(records, wire.New("RESERVATION", "feature", f.Name, "count", strconv.Itoa(free),
						"type", r.Type, "name", r.Name, "server", server, "port", port))
				}
			}
			for _, h := range p.Holders {
				version := h.Version
				if version == "" { // no version asked for: show the license's, as FlexLM shows the client's
					version = p.Pool.Version
				}
				rec := wire.New("HOLDER", "feature", f.Name, "pool_version", p.Pool.Version,
					"user", h.User, "host", h.Host, "display", h.Display, "version", version,
					"server", server, "port", port, "handle", strconv.FormatUint(h.Handle, 10),
					"start", strconv.FormatInt(h.Start.Unix(), 10), "count", strconv.Itoa(h.Count),
					"pid", strconv.Itoa(h.PID))
				if !h.LingerUntil.IsZero() {
					rec.Set("linger", strconv.Itoa(int(h.Linger/time.Second)))
					rec.Set("linger_left", strconv.Itoa(int(max(h.LingerUntil.Sub(now), 0)/time.Second)))
				}
				if !h.BorrowUntil.IsZero() {
					rec.Set("borrowed_until", strconv.FormatInt(h.BorrowUntil.Unix(), 10))
				}
				records = append(records, rec)
			}
		}
		for _, q := range f.Queued {
			version := q.Version
			if version == "" && len(f.Pools) > 0 {
				version = f.Pools[0].Pool.Version
			}
			records = append(records, wire.New(wire.RecQueued, "feature", f.Name,
				"user", q.User, "host", q.Host, "display", q.Display, "version", version,
				"server", server, "port", port, "handle", strconv.FormatUint(q.Handle, 10),
				"start", strconv.FormatInt(q.Start.Unix(), 10), "count", strconv.Itoa(q.Count),
				"pid", strconv.Itoa(q.PID)))
		}
	}
	if skipped := d.skipped.Load(); skipped != nil {
		for _, text := range *skipped {
			records = append(records, wire.New("SKIPPED", "text", text))
		}
	}
	resp := wire.OK("vendor", d.opts.Vendor, "version", wire.Version, "records", strconv.Itoa(len(records)),
		"borrowed", strconv.Itoa(borrowed))
	checkouts, denials := d.counts.fields()
	resp.Set("checkouts", checkouts)
	if denials != "" {
		resp.Set("denials", denials)
	}
	if d.opts.Unsigned {
		resp.Set("unsigned", "1") // lmgrd -unsigned: lmstat says so under the daemon's status
	}
	return resp, records
}

// servingIssued is the licenses issued by the pools of f within their
// dates on today; when none is, why says so with FlexLM's code, as a
// checkout would be answered.
func servingIssued(f pool.FeatureStatus, today licfile.Date) (issued int, why string) {
	serving := false
	for _, p := range f.Pools {
		out := p.Pool.OutOfDate(today)
		if out == "" {
			serving = true
			if !p.Pool.Uncounted {
				issued += p.Pool.Count
			}
			continue
		}
		if why == "" || out == "expired" {
			switch out {
			case "expired":
				why = "expired on " + p.Pool.Expiry.String() + " (" + strconv.Itoa(wire.CodeLongGone) + ")"
			default:
				why = "start date " + p.Pool.Start.String() + " is in the future (" + strconv.Itoa(wire.CodeTooEarly) + ")"
			}
		}
	}
	if serving {
		return issued, ""
	}
	for _, p := range f.Pools {
		if !p.Pool.Uncounted {
			issued += p.Pool.Count
		}
	}
	return issued, why
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

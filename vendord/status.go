package main

import (
	"strconv"

	"github.com/lmtriad/lmtriad/wire"
)

// status answers STATUS: one FEATURE record per feature name, then a POOL
// record per pool and a HOLDER record per holder of that pool. The records
// are built under the lock so lmstat's figures are exact at one moment.
func (d *daemon) status(feature string) (wire.Message, []wire.Message) {
	d.mu.Lock()
	features := d.pool.Status(feature)
	d.mu.Unlock()

	var records []wire.Message
	server, port := d.opts.ServerHost, strconv.Itoa(d.opts.ServerPort)
	for _, f := range features {
		records = append(records, wire.New("FEATURE", "name", f.Name,
			"issued", strconv.Itoa(f.Issued), "inuse", strconv.Itoa(f.InUse), "uncounted", boolDigit(f.Uncounted)))
		for _, p := range f.Pools {
			expiry := ""
			if !p.Pool.Expiry.IsZero() {
				expiry = p.Pool.Expiry.String()
			}
			records = append(records, wire.New("POOL", "feature", f.Name, "version", p.Pool.Version,
				"vendor", p.Pool.Vendor, "expiry", expiry, "count", strconv.Itoa(p.Pool.Count),
				"inuse", strconv.Itoa(p.InUse), "uncounted", boolDigit(p.Pool.Uncounted),
				"vendor_string", p.Pool.VendorString, "hostid", p.Pool.HostID))
			for _, h := range p.Holders {
				version := h.Version
				if version == "" { // no version asked for: show the license's, as FlexLM shows the client's
					version = p.Pool.Version
				}
				records = append(records, wire.New("HOLDER", "feature", f.Name, "pool_version", p.Pool.Version,
					"user", h.User, "host", h.Host, "display", h.Display, "version", version,
					"server", server, "port", port, "handle", strconv.FormatUint(h.Handle, 10),
					"start", strconv.FormatInt(h.Start.Unix(), 10), "count", strconv.Itoa(h.Count),
					"pid", strconv.Itoa(h.PID)))
			}
		}
	}
	resp := wire.OK("vendor", d.opts.Vendor, "version", wire.Version, "records", strconv.Itoa(len(records)))
	if d.opts.Unsigned {
		resp.Set("unsigned", "1") // lmgrd -unsigned: lmstat says so under the daemon's status
	}
	return resp, records
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Package notify decides which events of a license server an
// administrator is told about (by mail and webhook), and sends them. The
// deciding part, Watcher, is pure: it is fed what a member observes, on
// the caller's clock, and returns the events due, each once (a member
// isolated for N minutes, a vendor daemon going down, licenses expiring
// within N days once a day, the state directory's disk past P% and again
// at each further percent). Senders are at the edge: Webhook (a JSON POST)
// and Mail (SMTP with STARTTLS when offered and optional authentication).
package notify

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kinds of events.
const (
	KindStart      = "start"
	KindStop       = "stop"
	KindIsolated   = "isolated"
	KindVendorDown = "vendor-down"
	KindExpiring   = "expiring"
	KindDisk       = "disk"
	KindTest       = "test"
)

// Event is one notification.
type Event struct {
	Kind    string    `json:"kind"`
	Host    string    `json:"host"` // the member that sends it
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	Time    time.Time `json:"time"`
}

// Rules tune the Watcher; NewRules gives the defaults.
type Rules struct {
	IsolatedAfter  time.Duration // a member down this long is reported (1-60 min; default 5)
	ExpiringWithin int           // days (1-30; default 14)
	DiskPercent    int           // state-directory disk use reported from this percent (default 80)
}

// NewRules returns the defaults.
func NewRules() Rules {
	return Rules{IsolatedAfter: 5 * time.Minute, ExpiringWithin: 14, DiskPercent: 80}
}

// Validate checks the ranges.
func (r Rules) Validate() error {
	switch {
	case r.IsolatedAfter < time.Minute || r.IsolatedAfter > time.Hour:
		return fmt.Errorf("notify: isolated-after %v: want 1 to 60 minutes", r.IsolatedAfter)
	case r.ExpiringWithin < 1 || r.ExpiringWithin > 30:
		return fmt.Errorf("notify: expiring-within %d days: want 1 to 30", r.ExpiringWithin)
	case r.DiskPercent < 1 || r.DiskPercent > 100:
		return fmt.Errorf("notify: disk percent %d: want 1 to 100", r.DiskPercent)
	}
	return nil
}

// Expiring is a license line that ends on Expiry.
type Expiring struct {
	Vendor, Feature, Version string
	Expiry                   time.Time // the first instant it no longer serves
}

// Observation is what a member sees at one moment.
type Observation struct {
	Members     map[string]bool // SERVER host -> up, as this member sees it
	VendorsUp   map[string]bool // vendor daemon -> answers
	Expiring    []Expiring      // dated lines (any date: the Watcher picks)
	DiskPercent float64         // state directory's file system use; < 0 when unknown
}

// Watcher turns observations into events. Not safe for concurrent use.
type Watcher struct {
	rules Rules
	host  string

	downSince    map[string]time.Time // member -> when first seen down
	reported     map[string]bool      // member -> its isolation was reported
	vendorUp     map[string]bool      // vendor -> last seen up
	expiringDay  string               // the day the expiry list was sent
	diskReported int                  // the last percent reported (0: none)
}

// NewWatcher watches for host (the member's own SERVER host).
func NewWatcher(host string, rules Rules) *Watcher {
	return &Watcher{rules: rules, host: host, downSince: map[string]time.Time{}, reported: map[string]bool{}, vendorUp: map[string]bool{}}
}

// Observe returns the events now due.
func (w *Watcher) Observe(o Observation, now time.Time) []Event {
	var out []Event
	ev := func(kind, subject, text string) {
		out = append(out, Event{Kind: kind, Host: w.host, Subject: subject, Text: text, Time: now})
	}
	members := make([]string, 0, len(o.Members))
	for m := range o.Members {
		members = append(members, m)
	}
	sort.Strings(members)
	for _, m := range members {
		if o.Members[m] {
			delete(w.downSince, m)
			delete(w.reported, m)
			continue
		}
		since, seen := w.downSince[m]
		if !seen {
			w.downSince[m] = now
			continue
		}
		if !w.reported[m] && now.Sub(since) >= w.rules.IsolatedAfter {
			w.reported[m] = true
			ev(KindIsolated, fmt.Sprintf("license server %s isolated for %d minutes", m, int(now.Sub(since).Minutes())),
				fmt.Sprintf("%s has not been reachable from %s since %s.", m, w.host, since.Format(time.RFC1123)))
		}
	}
	vendors := make([]string, 0, len(o.VendorsUp))
	for v := range o.VendorsUp {
		vendors = append(vendors, v)
	}
	sort.Strings(vendors)
	for _, v := range vendors {
		up := o.VendorsUp[v]
		if was, known := w.vendorUp[v]; known && was && !up {
			ev(KindVendorDown, fmt.Sprintf("vendor daemon %s down on %s", v, w.host),
				fmt.Sprintf("The vendor daemon %s on %s does not answer; lmgrd restarts it.", v, w.host))
		}
		w.vendorUp[v] = up
	}
	if day := now.Format("2006-01-02"); day != w.expiringDay {
		limit := now.AddDate(0, 0, w.rules.ExpiringWithin)
		var lines []string
		for _, e := range o.Expiring {
			if !e.Expiry.IsZero() && e.Expiry.After(now) && !e.Expiry.After(limit) {
				lines = append(lines, fmt.Sprintf("%s %s v%s expires %s", e.Vendor, e.Feature, e.Version, e.Expiry.Format("2-Jan-2006")))
			}
		}
		if len(lines) > 0 {
			w.expiringDay = day
			sort.Strings(lines)
			ev(KindExpiring, fmt.Sprintf("%d license line(s) expire within %d days", len(lines), w.rules.ExpiringWithin),
				strings.Join(lines, "\n"))
		}
	}
	if pct := int(o.DiskPercent); o.DiskPercent >= 0 {
		switch {
		case pct >= w.rules.DiskPercent && pct > w.diskReported:
			w.diskReported = pct
			ev(KindDisk, fmt.Sprintf("state directory disk %d%% full on %s", pct, w.host),
				fmt.Sprintf("The file system of the state directory of %s is %d%% used (warning from %d%%).", w.host, pct, w.rules.DiskPercent))
		case pct < w.rules.DiskPercent:
			w.diskReported = 0
		}
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/stats"
	"github.com/lmtriad/lmtriad/wire"
)

// The HTTP listener of a member (docs/api.md): /metrics for Prometheus
// and the JSON API /api/v1/..., on by default on the SERVER host at
// DefaultHTTPPort (-http ADDR, -http off; TLS with -http-cert and
// -http-key). A listener that cannot bind is logged and left out: it
// never stops lmgrd.

// DefaultHTTPPort is the port of the HTTP listener unless -http says.
const DefaultHTTPPort = 8090

// httpAddr is where the HTTP listener binds, "" for none.
func (s *server) httpAddr() string {
	switch s.opts.HTTP {
	case "off":
		return ""
	case "":
		return net.JoinHostPort(bindHost(s.host, true), strconv.Itoa(DefaultHTTPPort))
	}
	return s.opts.HTTP
}

// startHTTP starts the HTTP listener (stopped with s.ctx).
func (s *server) startHTTP() {
	addr := s.httpAddr()
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.log.Warnf("HTTP listener not started: cannot listen on %s: %v (-http ADDR or -http off)", addr, err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&metricsCollector{s: s})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("GET /api/v1/status", s.apiStatus)
	mux.HandleFunc("GET /api/v1/stats", s.apiStats)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	scheme := "http"
	if s.opts.HTTPCert != "" {
		scheme = "https"
	}
	s.log.Infof("HTTP listener on %s://%s (/metrics, /api/v1/status)", scheme, ln.Addr())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		var err error
		if s.opts.HTTPCert != "" {
			err = srv.ServeTLS(ln, s.opts.HTTPCert, s.opts.HTTPKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warnf("HTTP listener stopped: %v", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		<-s.ctx.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
}

// vendorSnapshot is one vendor daemon's state for /metrics and the API.
type vendorSnapshot struct {
	name    string
	up      bool
	resp    wire.Message
	records []wire.Message
}

// snapshotMaxAge is how long one round of vendor STATUS answers serves
// /metrics, the API and the statistics: however many HTTP requests
// arrive, the vendor daemons are asked at most once per this, so a flood
// of scrapes cannot take their administrators' connection reserve.
const snapshotMaxAge = time.Second

// snapshotCache is the last round of vendor STATUS answers.
type snapshotCache struct {
	mu    sync.Mutex // held while a round is asked: callers wait for it
	at    time.Time
	round []vendorSnapshot
}

// get returns a round no older than snapshotMaxAge, asking fetch for a
// new one when needed (one caller at a time).
func (c *snapshotCache) get(now func() time.Time, fetch func() []vendorSnapshot) []vendorSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.round != nil && now().Sub(c.at) < snapshotMaxAge {
		return c.round
	}
	c.round = fetch()
	c.at = now()
	return c.round
}

// vendorSnapshots is every vendor daemon's STATUS, at most snapshotMaxAge
// old.
func (s *server) vendorSnapshots() []vendorSnapshot {
	return s.snapshots.get(time.Now, s.askVendors)
}

// askVendors asks every vendor daemon of this member for its STATUS.
func (s *server) askVendors() []vendorSnapshot {
	s.mu.Lock()
	names := make([]string, 0, len(s.vendors))
	procs := make(map[string]*vendorProc, len(s.vendors))
	for n, v := range s.vendors {
		names = append(names, n)
		procs[n] = v
	}
	s.mu.Unlock()
	sort.Strings(names)
	out := make([]vendorSnapshot, 0, len(names))
	for _, n := range names {
		vs := vendorSnapshot{name: n}
		resp, recs, err := s.vendorStatus(procs[n])
		if err == nil && resp.Verb != "" {
			vs.up, vs.resp, vs.records = true, resp, recs
		}
		out = append(out, vs)
	}
	return out
}

// ---- /metrics ----

var (
	mMemberUp   = prometheus.NewDesc("lmtriad_member_up", "Whether this member sees the member (SERVER line) up.", []string{"member"}, nil)
	mMaster     = prometheus.NewDesc("lmtriad_member_master", "Whether the member is the master, as this member sees it.", []string{"member"}, nil)
	mLinkUp     = prometheus.NewDesc("lmtriad_link_up", "Whether the triad link between two members is up, as this member sees it.", []string{"from", "to"}, nil)
	mVendorUp   = prometheus.NewDesc("lmtriad_vendor_daemon_up", "Whether the vendor daemon answers.", []string{"vendor"}, nil)
	mIssued     = prometheus.NewDesc("lmtriad_feature_issued", "Licenses issued of the feature (counted lines within their dates).", []string{"vendor", "feature"}, nil)
	mUsed       = prometheus.NewDesc("lmtriad_feature_used", "Licenses of the feature in use.", []string{"vendor", "feature"}, nil)
	mQueued     = prometheus.NewDesc("lmtriad_feature_queued", "Checkout requests waiting in the server's queue for the feature.", []string{"vendor", "feature"}, nil)
	mReserved   = prometheus.NewDesc("lmtriad_feature_reserved", "Licenses of the feature set aside by RESERVE and not in use.", []string{"vendor", "feature"}, nil)
	mExpiry     = prometheus.NewDesc("lmtriad_feature_expiry_timestamp_seconds", "When a pool of the feature expires (Unix seconds); absent for permanent pools.", []string{"vendor", "feature", "version"}, nil)
	mHolders    = prometheus.NewDesc("lmtriad_holders", "License handles held on the vendor daemon.", []string{"vendor"}, nil)
	mBorrowed   = prometheus.NewDesc("lmtriad_borrowed", "Licenses borrowed from the vendor daemon.", []string{"vendor"}, nil)
	mCheckouts  = prometheus.NewDesc("lmtriad_checkouts_total", "Checkouts granted by the vendor daemon since it started.", []string{"vendor"}, nil)
	mDenials    = prometheus.NewDesc("lmtriad_denials_total", "Checkouts denied by the vendor daemon since it started, by feature and FlexLM code.", []string{"vendor", "feature", "code"}, nil)
	mTerm       = prometheus.NewDesc("lmtriad_raft_term", "The triad's raft term as this member knows it (it rises with each election).", nil, nil)
	mCommit     = prometheus.NewDesc("lmtriad_raft_commit_index", "The raft commit index.", nil, nil)
	mApplied    = prometheus.NewDesc("lmtriad_raft_applied_index", "The raft index applied to this member's license tables (commit - applied is its lag).", nil, nil)
	mSkew       = prometheus.NewDesc("lmtriad_member_clock_skew_seconds", "A peer's wall clock minus this member's, as last measured.", []string{"member"}, nil)
	mDisk       = prometheus.NewDesc("lmtriad_state_disk_used_ratio", "How full the file system of the state directory is (0-1).", nil, nil)
	allMetrices = []*prometheus.Desc{mMemberUp, mMaster, mLinkUp, mVendorUp, mIssued, mUsed, mQueued, mReserved, mExpiry, mHolders,
		mBorrowed, mCheckouts, mDenials, mTerm, mCommit, mApplied, mSkew, mDisk}
)

// metricsCollector reads the member's state at each scrape.
type metricsCollector struct{ s *server }

func (m *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allMetrices {
		ch <- d
	}
}

func (m *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := m.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	v := s.view()
	for i, sv := range s.servers {
		gauge(mMemberUp, boolValue(v.up[i]), sv.Host)
		gauge(mMaster, boolValue(v.master == i), sv.Host)
	}
	for i, l := range v.links {
		gauge(mLinkUp, boolValue(v.linkUp[i]), s.servers[l[0]].Host, s.servers[l[1]].Host)
	}
	if s.isTriad() {
		st := s.tri.currentStatus()
		gauge(mTerm, float64(st.Term))
		gauge(mCommit, float64(st.Commit))
		gauge(mApplied, float64(st.Applied))
		for i, sv := range s.servers {
			if i != s.self {
				gauge(mSkew, st.Skew[i].Seconds(), sv.Host)
			}
		}
		if pct := diskPercent(s.tri.dir); pct >= 0 {
			gauge(mDisk, pct/100)
		}
	}
	for _, vs := range s.vendorSnapshots() {
		gauge(mVendorUp, boolValue(vs.up), vs.name)
		if !vs.up {
			continue
		}
		// Every feature has a queued and a reserved figure, 0 when none.
		holders, reserved, queued := 0, map[string]int{}, map[string]int{}
		for _, r := range vs.records {
			switch r.Verb {
			case "FEATURE":
				issued, _ := r.Int("issued")
				used, _ := r.Int("inuse")
				gauge(mIssued, float64(issued), vs.name, r.Get("name"))
				gauge(mUsed, float64(used), vs.name, r.Get("name"))
				reserved[r.Get("name")] += 0
				queued[r.Get("name")] += 0
			case wire.RecQueued:
				queued[r.Get("feature")]++
			case "POOL":
				if d, err := licfile.ParseDate(r.Get("expiry")); err == nil && !d.IsZero() {
					gauge(mExpiry, float64(d.Time().Unix()), vs.name, r.Get("feature"), r.Get("version"))
				}
			case "RESERVATION":
				n, _ := r.Int("count")
				reserved[r.Get("feature")] += n
			case "HOLDER":
				holders++
			}
		}
		for f, n := range reserved {
			gauge(mReserved, float64(n), vs.name, f)
		}
		for f, n := range queued {
			gauge(mQueued, float64(n), vs.name, f)
		}
		gauge(mHolders, float64(holders), vs.name)
		if b, err := vs.resp.Int("borrowed"); err == nil {
			gauge(mBorrowed, float64(b), vs.name)
		}
		if c, err := vs.resp.Int("checkouts"); err == nil {
			counter(mCheckouts, float64(c), vs.name)
		}
		for _, d := range denialsOf(vs.resp) {
			counter(mDenials, float64(d.n), vs.name, d.feature, strconv.Itoa(d.code))
		}
	}
}

// denial is one entry of STATUS's denials= (feature:code:count).
type denial struct {
	feature string
	code    int
	n       uint64
}

func denialsOf(resp wire.Message) []denial {
	var out []denial
	for _, kv := range strings.Split(resp.Get("denials"), ",") {
		parts := strings.Split(kv, ":")
		if len(parts) != 3 {
			continue
		}
		code, err1 := strconv.Atoi(parts[1])
		n, err2 := strconv.ParseUint(parts[2], 10, 64)
		if err1 == nil && err2 == nil {
			out = append(out, denial{parts[0], code, n})
		}
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ---- /api/v1/status ----

// apiStatus is GET /api/v1/status: what lmstat -a shows, as JSON. A
// requester gets what its access level allows (docs/security.md): user
// lines, reservations and queued requests only from restricted up.
func (s *server) apiStatus(w http.ResponseWriter, r *http.Request) {
	peer := peerOf(r)
	level := s.policy().Level(peer, hostid.AccessAnonymous)
	v := s.view()
	st := apiStatusDoc{Host: s.host, Port: s.port, Role: v.role, Access: level.String(), Cluster: v.cluster}
	for i, sv := range s.servers {
		st.Servers = append(st.Servers, apiServer{Host: sv.Host, Port: s.portOf(i), Up: v.up[i], Master: v.master == i})
	}
	for i, l := range v.links {
		st.Links = append(st.Links, apiLink{From: s.servers[l[0]].Host, To: s.servers[l[1]].Host, Up: v.linkUp[i], Why: v.linkWhy[i]})
	}
	for _, vs := range s.vendorSnapshots() {
		av := apiVendor{Name: vs.name, Up: vs.up}
		var f *apiFeature
		for _, rec := range vs.records {
			switch rec.Verb {
			case "FEATURE":
				issued, _ := rec.Int("issued")
				used, _ := rec.Int("inuse")
				av.Features = append(av.Features, apiFeature{Name: rec.Get("name"), Issued: issued, InUse: used,
					Uncounted: rec.Get("uncounted") == "1", Error: rec.Get("err")})
				f = &av.Features[len(av.Features)-1]
			case "POOL":
				if f != nil {
					count, _ := rec.Int("count")
					f.Pools = append(f.Pools, apiPool{Version: rec.Get("version"), Expiry: rec.Get("expiry"), Count: count,
						VendorString: rec.Get("vendor_string"), HostID: rec.Get("hostid")})
				}
			case "HOLDER":
				if f != nil && level >= hostid.AccessRestricted {
					handle, _ := rec.Uint64("handle")
					start, _ := strconv.ParseInt(rec.Get("start"), 10, 64)
					count, _ := rec.Int("count")
					f.Holders = append(f.Holders, apiHolder{User: rec.Get("user"), Host: rec.Get("host"), Display: rec.Get("display"),
						Version: rec.Get("version"), Handle: handle, Start: time.Unix(start, 0).UTC(), Count: count})
				}
			}
		}
		st.Vendors = append(st.Vendors, av)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st)
}

// ---- /api/v1/stats ----

// apiStats is GET /api/v1/stats?res=&from=&to=&format=: the usage
// statistics lmreport exports (feature totals, any requester), as a JSON
// array or, with format=csv, CSV. from and to are RFC 3339 or a date.
func (s *server) apiStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to := time.Unix(0, 0), time.Now().Add(time.Minute)
	for _, b := range []struct {
		key string
		t   *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(b.key); v != "" {
			at, err := stats.ParseTime(v)
			if err != nil {
				http.Error(w, fmt.Sprintf("%s=%q: want RFC 3339 or YYYY-MM-DD", b.key, v), http.StatusBadRequest)
				return
			}
			*b.t = at
		}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		http.Error(w, fmt.Sprintf("format=%q: want json or csv", format), http.StatusBadRequest)
		return
	}
	rows, err := s.queryStats(q.Get("res"), from, to)
	switch {
	case errors.Is(err, errNoStats):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="lmtriad-usage.csv"`)
		_ = stats.WriteCSV(w, rows)
		return
	}
	if rows == nil {
		rows = []stats.Row{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rows)
}

// peerOf is the request's source address (lmgrd serves no proxy: the
// connection's own).
func peerOf(r *http.Request) net.Addr {
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	return &net.TCPAddr{IP: net.ParseIP(host), Port: p}
}

type apiStatusDoc struct {
	Host    string      `json:"host"`
	Port    int         `json:"port"`
	Role    string      `json:"role"`
	Access  string      `json:"access"`
	Cluster string      `json:"cluster,omitempty"`
	Servers []apiServer `json:"servers"`
	Links   []apiLink   `json:"links,omitempty"`
	Vendors []apiVendor `json:"vendors"`
}

type apiServer struct {
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Up     bool   `json:"up"`
	Master bool   `json:"master"`
}

type apiLink struct {
	From string `json:"from"`
	To   string `json:"to"`
	Up   bool   `json:"up"`
	Why  string `json:"why,omitempty"`
}

type apiVendor struct {
	Name     string       `json:"name"`
	Up       bool         `json:"up"`
	Features []apiFeature `json:"features"`
}

type apiFeature struct {
	Name      string      `json:"name"`
	Issued    int         `json:"issued"`
	InUse     int         `json:"in_use"`
	Uncounted bool        `json:"uncounted,omitempty"`
	Error     string      `json:"error,omitempty"`
	Pools     []apiPool   `json:"pools"`
	Holders   []apiHolder `json:"holders,omitempty"`
}

type apiPool struct {
	Version      string `json:"version"`
	Expiry       string `json:"expiry,omitempty"`
	Count        int    `json:"count"`
	VendorString string `json:"vendor_string,omitempty"`
	HostID       string `json:"hostid,omitempty"`
}

type apiHolder struct {
	User    string    `json:"user"`
	Host    string    `json:"host"`
	Display string    `json:"display,omitempty"`
	Version string    `json:"version"`
	Handle  uint64    `json:"handle"`
	Start   time.Time `json:"start"`
	Count   int       `json:"count"`
}

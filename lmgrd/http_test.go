package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// /metrics, scraped and parsed with Prometheus's own text parser, and
// /api/v1/status after a checkout and a denial.
func TestMetricsAndStatusAPI(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	httpPort := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port,
		"FEATURE solver demo 1.0 permanent 2 SIGN=0\nFEATURE oldtool demo 1.0 1-jan-2030 1 SIGN=0\n")
	p := startLmgrd(t, "-c", lic, "-http", fmt.Sprintf("127.0.0.1:%d", httpPort))
	p.waitLog(t, "HTTP listener on http://127.0.0.1:")
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	_, err := clientAs(t, server, "alice").Checkout(ctx(t), "solver", "", 2)
	require.NoError(t, err)
	_, err = clientAs(t, server, "bob").Checkout(ctx(t), "solver", "", 1)
	require.Error(t, err, "all in use")

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)))))
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"lmtriad_member_up", map[string]string{"member": "127.0.0.1"}, 1},
		{"lmtriad_member_master", map[string]string{"member": "127.0.0.1"}, 1},
		{"lmtriad_vendor_daemon_up", map[string]string{"vendor": "demo"}, 1},
		{"lmtriad_feature_issued", map[string]string{"vendor": "demo", "feature": "solver"}, 2},
		{"lmtriad_feature_used", map[string]string{"vendor": "demo", "feature": "solver"}, 2},
		{"lmtriad_feature_queued", map[string]string{"vendor": "demo", "feature": "solver"}, 0},
		{"lmtriad_feature_reserved", map[string]string{"vendor": "demo", "feature": "solver"}, 0},
		{"lmtriad_feature_expiry_timestamp_seconds", map[string]string{"vendor": "demo", "feature": "oldtool"}, float64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix())},
		{"lmtriad_holders", map[string]string{"vendor": "demo"}, 1},
		{"lmtriad_checkouts_total", map[string]string{"vendor": "demo"}, 1},
		{"lmtriad_denials_total", map[string]string{"vendor": "demo", "feature": "solver", "code": "-4"}, 1},
	} {
		got, ok := value(t, families, tt.name, tt.labels)
		if assert.True(t, ok, "%s%v missing", tt.name, tt.labels) {
			assert.Equal(t, tt.want, got, "%s%v", tt.name, tt.labels)
		}
	}

	var st struct {
		Role    string `json:"role"`
		Access  string `json:"access"`
		Servers []struct {
			Host   string `json:"host"`
			Master bool   `json:"master"`
		} `json:"servers"`
		Vendors []struct {
			Name     string `json:"name"`
			Up       bool   `json:"up"`
			Features []struct {
				Name    string `json:"name"`
				Issued  int    `json:"issued"`
				InUse   int    `json:"in_use"`
				Holders []struct {
					User  string `json:"user"`
					Count int    `json:"count"`
				} `json:"holders"`
			} `json:"features"`
		} `json:"vendors"`
	}
	require.NoError(t, json.Unmarshal(httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/status", httpPort)), &st))
	assert.Equal(t, "full", st.Access, "a request from this host")
	require.Len(t, st.Servers, 1)
	assert.True(t, st.Servers[0].Master)
	require.Len(t, st.Vendors, 1)
	assert.True(t, st.Vendors[0].Up)
	var solver bool
	for _, f := range st.Vendors[0].Features {
		if f.Name == "solver" {
			solver = true
			assert.Equal(t, 2, f.Issued)
			assert.Equal(t, 2, f.InUse)
			require.Len(t, f.Holders, 1)
			assert.Equal(t, "alice", f.Holders[0].User)
			assert.Equal(t, 2, f.Holders[0].Count)
		}
	}
	assert.True(t, solver, "solver in the status")
}

// Every member of a triad serves metrics: the raft figures, the clock
// skew to its peers, its links and who is master.
func TestTriadMembersServeMetrics(t *testing.T) {
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	httpPort := freePort(t, triadHosts[:]...)
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent 3 SIGN=0\n", port, port, port)), 0o644))
	tc := &triadCluster{port: port, lic: lic}
	for i, h := range triadHosts {
		tc.extra[i] = []string{"-http", fmt.Sprintf("%s:%d", h, httpPort)}
		tc.start(t, i)
	}
	tc.waitSomeMaster(t)
	for _, h := range triadHosts {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(httpGet(t, fmt.Sprintf("http://%s:%d/metrics", h, httpPort)))))
		require.NoError(t, err, h)
		term, ok := value(t, families, "lmtriad_raft_term", nil)
		assert.True(t, ok && term >= 1, "%s: raft term %v", h, term)
		masters := 0.0
		for _, m := range triadHosts {
			up, _ := value(t, families, "lmtriad_member_up", map[string]string{"member": m})
			assert.Equal(t, 1.0, up, "%s sees %s up", h, m)
			isMaster, _ := value(t, families, "lmtriad_member_master", map[string]string{"member": m})
			masters += isMaster
		}
		assert.Equal(t, 1.0, masters, "%s sees exactly one master", h)
		_, ok = value(t, families, "lmtriad_member_clock_skew_seconds", nil)
		assert.True(t, ok, h)
		disk, ok := value(t, families, "lmtriad_state_disk_used_ratio", nil)
		assert.True(t, ok && disk > 0 && disk <= 1, "%s: disk %v", h, disk)
	}
}

// The Grafana dashboard in docs/ uses only metrics lmgrd serves, and every
// metric appears in it and in docs/api.md.
func TestGrafanaDashboardAndDocsUseTheServedMetrics(t *testing.T) {
	served := map[string]bool{}
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, d := range allMetrices {
		m := name.FindStringSubmatch(d.String())
		require.NotNil(t, m, d.String())
		served[m[1]] = true
	}
	dash, err := os.ReadFile("../docs/grafana/lmtriad.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(dash, &doc), "the dashboard is JSON")
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`lmtriad_[a-z_]+`).FindAllString(string(dash), -1) {
		used[m] = true
		assert.True(t, served[m], "the dashboard uses %s, which lmgrd does not serve", m)
	}
	api, err := os.ReadFile("../docs/api.md")
	require.NoError(t, err)
	for m := range served {
		assert.True(t, used[m], "%s is not on the dashboard", m)
		assert.True(t, strings.Contains(string(api), "`"+m+"`"), "%s is not in docs/api.md", m)
	}
}

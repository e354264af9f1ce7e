package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/lmstat"
)

// LM_LICENSE_FILE with several entries: lmstat reports each in order,
// separated by FlexLM's 76-dash line, a dead one included, and exits 0
// when any answered.
func TestLmstatReportsEveryEntryOfAPathList(t *testing.T) {
	port1, _, _ := startDemo(t)
	port2, _, _ := startDemo(t)
	dead := freePort(t, "127.0.0.1")
	path := fmt.Sprintf("%d@127.0.0.1:%d@127.0.0.1:%d@127.0.0.1", dead, port1, port2)
	out, code := lmutil(t, []string{"LM_LICENSE_FILE=" + path}, "lmstat", "-a")
	require.Equal(t, 0, code, out)
	sections := strings.Split(out, lmstat.EntrySeparator+"\n")
	require.Len(t, sections, 3, out)
	assert.Contains(t, sections[0], "Error getting status: Cannot connect to license server system. (-15,570:")
	assert.Contains(t, sections[1], fmt.Sprintf("License server status: %d@127.0.0.1", port1))
	assert.Contains(t, sections[1], "Users of solver:")
	assert.Contains(t, sections[2], fmt.Sprintf("License server status: %d@127.0.0.1", port2))
	assert.Equal(t, 1, strings.Count(out, "Flexible License Manager status on"), "one banner")

	out, code = lmutil(t, []string{"LM_LICENSE_FILE=" + fmt.Sprint(dead) + "@127.0.0.1"}, "lmstat", "-a")
	assert.Equal(t, 1, code, "nothing answered: %s", out)
}

// lmstat -i and lmcksum given a server address read the license lines the
// server serves, as FlexLM clients get the license file from the server;
// the expiry dates monitoring tools look for are there.
func TestLicenseLinesFromTheServer(t *testing.T) {
	port, _, _ := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	out, code := lmutil(t, nil, "lmstat", "-i", "-c", server)
	require.Equal(t, 0, code, out)
	lines := strings.Split(out, "\n")
	require.Greater(t, len(lines), 9, out)
	assert.Contains(t, lines[0], "lmutil - Copyright")
	assert.True(t, strings.HasPrefix(lines[1], "Flexible License Manager status on "), "the banner and date come first")
	assert.Equal(t, "NOTE: lmstat -i does not give information from the server,", lines[3])
	assert.Regexp(t, `(?m)^solver\s+1\.0\s+\d+\s+demo\s+permanent\(no expiration date\)$`, out)

	out, code = lmutil(t, nil, "lmcksum", "-c", server)
	require.Equal(t, 0, code, out)
	// phpLicenseWatcher's expression for lmcksum's lines.
	php := regexp.MustCompile(`(?i)(?:INCREMENT|FEATURE) (?P<name>[^ ]+) (?P<vendor>[^ ]+) [^ ]+ (?P<expiry>[^ ]+) (?P<count>[^ ]+)`)
	m := php.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, []string{"solver", "demo", "permanent"}, m[1:4])
}

// lmdiag tries each feature and says why one cannot be checked out.
func TestLmdiagSaysWhyAFeatureCannotBeCheckedOut(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port,
		"FEATURE solver demo 1.0 permanent 1 SIGN=0\nFEATURE oldtool demo 1.0 1-jan-2020 1 SIGN=0\n")
	p := startLmgrd(t, "-c", lic)
	p.waitLog(t, "Serving features for the following vendor: demo")
	out, code := lmutil(t, nil, "lmdiag", "-n", "-c", fmt.Sprintf("%d@127.0.0.1", port))
	assert.Equal(t, 1, code, out)
	assert.Regexp(t, `(?s)"oldtool" v1\.0, vendor: demo, expiry: 1-jan-2020.*This license cannot be checked out because:\s+Feature has expired\. \(-10,`, out)
	assert.Regexp(t, `(?s)"solver" v1\.0, vendor: demo, expiry: permanent\(no expiration date\)\n  floating license\n\nThis license can be checked out`, out)
	out, code = lmutil(t, nil, "lmdiag", "-n", "-c", fmt.Sprintf("%d@127.0.0.1", port), "solver")
	assert.Equal(t, 0, code, out)
	assert.NotContains(t, out, "oldtool")
}

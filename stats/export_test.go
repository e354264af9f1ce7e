package stats

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteCSVQuotesWhatNeedsIt(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, []Row{
		{Time: at, Vendor: "demo", Feature: "solver", Peak: 2, Issued: 2, Denials: 1},
		{Time: at.In(time.FixedZone("X", 3600)), Vendor: "demo", Feature: `odd,"name"`, Peak: 0, Issued: 5},
	}))
	assert.Equal(t, "time,vendor,feature,peak,issued,denials\n"+
		"2026-11-28T10:00:00Z,demo,solver,2,2,1\n"+
		"2026-11-28T10:00:00Z,demo,\"odd,\"\"name\"\"\",0,5,0\n", b.String())
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-11-28":           time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
		"2026-11-28T10:30:00Z": time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC),
	} {
		got, err := ParseTime(in)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: %v", in, got)
	}
	for _, bad := range []string{"", "yesterday", "28-nov-2026", "1700000000"} {
		_, err := ParseTime(bad)
		assert.Error(t, err, bad)
	}
}

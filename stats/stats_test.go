package stats

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordKeepsPeaksAndSumsDenials(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "stats.db"), Keep)
	require.NoError(t, err)
	defer s.Close()
	t0 := time.Date(2026, 11, 28, 10, 0, 5, 0, time.UTC)
	require.NoError(t, s.Record(t0, []Row{{Vendor: "demo", Feature: "solver", Peak: 2, Issued: 5, Denials: 1}}))
	require.NoError(t, s.Record(t0.Add(20*time.Second), []Row{{Vendor: "demo", Feature: "solver", Peak: 4, Issued: 5, Denials: 2}}))
	require.NoError(t, s.Record(t0.Add(40*time.Second), []Row{{Vendor: "demo", Feature: "solver", Peak: 3, Issued: 5}}))
	require.NoError(t, s.Record(t0.Add(time.Minute), []Row{{Vendor: "demo", Feature: "solver", Peak: 1, Issued: 5}}))
	rows, err := s.Query(Minute, t0.Add(-time.Hour), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, Row{Time: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), Vendor: "demo", Feature: "solver", Peak: 4, Issued: 5, Denials: 3}, rows[0])
	assert.Equal(t, 1, rows[1].Peak)
	_, err = s.Query("week", t0, t0)
	assert.ErrorIs(t, err, ErrResolution)
}

func TestDownsampleFoldsAndKeepsThirteenMonths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	s, err := Open(path, Keep)
	require.NoError(t, err)
	start := time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC)
	// Two minutes of one hour almost a year ago, one 60 days before that
	// (past 400 days), then today.
	require.NoError(t, s.Record(start, []Row{{Vendor: "demo", Feature: "solver", Peak: 3, Issued: 5, Denials: 1}}))
	require.NoError(t, s.Record(start.Add(30*time.Minute), []Row{{Vendor: "demo", Feature: "solver", Peak: 5, Issued: 5, Denials: 2}}))
	require.NoError(t, s.Record(start.Add(-60*24*time.Hour), []Row{{Vendor: "demo", Feature: "solver", Peak: 1, Issued: 5}}))
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	require.NoError(t, s.Record(now, []Row{{Vendor: "demo", Feature: "solver", Peak: 2, Issued: 5}}))
	require.NoError(t, s.Downsample(now))

	minutes, err := s.Query(Minute, time.Time{}, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Len(t, minutes, 1, "only today's minute is still a minute")
	hours, err := s.Query(Hour, time.Time{}, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, hours, "last year's hour has become a day")
	days, err := s.Query(Day, time.Time{}, now.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, days, 1, "the day 422 days ago is past 400 days and dropped")
	assert.Equal(t, Row{Time: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), Vendor: "demo", Feature: "solver", Peak: 5, Issued: 5, Denials: 3}, days[0])

	// It survives a restart.
	require.NoError(t, s.Close())
	s, err = Open(path, Keep)
	require.NoError(t, err)
	defer s.Close()
	all, err := s.Query("", time.Time{}, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Len(t, all, 2)
}

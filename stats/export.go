package stats

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// ParseTime reads a report bound as administrators type it: RFC 3339, or
// a date (midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// CSVHeader is the first line WriteCSV writes.
var CSVHeader = []string{"time", "vendor", "feature", "peak", "issued", "denials"}

// WriteCSV writes rows as CSV (RFC 4180, times in RFC 3339 UTC) under
// CSVHeader: what lmutil lmreport and GET /api/v1/stats?format=csv give.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Time.UTC().Format(time.RFC3339), r.Vendor, r.Feature,
			strconv.Itoa(r.Peak), strconv.Itoa(r.Issued), strconv.FormatUint(r.Denials, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

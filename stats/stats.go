// Package stats keeps a license server's usage statistics: per vendor,
// feature and minute the peak number of licenses in use, the licenses
// issued and the denials, in a bbolt file of the state directory. Old
// minutes are folded into hours, old hours into days (peaks by maximum,
// denials by sum), and days are kept for at least 13 months, so the file
// stays small however long the server runs. Every member of a triad
// records what its own vendor daemons show (a standby's hold the
// replicated tables), so a failover leaves no gap.
package stats

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Resolutions, and how long each is kept before it is folded into the
// next.
const (
	Minute = "minute"
	Hour   = "hour"
	Day    = "day"
)

// Retention of each resolution (Keep is the default).
type Retention struct {
	Minutes, Hours, Days time.Duration
}

// Keep is the default retention: minutes two weeks, hours three months,
// days 400 days (13 months and more).
var Keep = Retention{Minutes: 14 * 24 * time.Hour, Hours: 92 * 24 * time.Hour, Days: 400 * 24 * time.Hour}

// Row is one period of one feature.
type Row struct {
	Time    time.Time `json:"time"` // the period's start, UTC
	Vendor  string    `json:"vendor"`
	Feature string    `json:"feature"`
	Peak    int       `json:"peak"`    // most licenses in use at once
	Issued  int       `json:"issued"`  // licenses issued (the largest seen)
	Denials uint64    `json:"denials"` // checkouts denied
}

// fold merges o into r (same feature, a period that contains both).
func (r *Row) fold(o Row) {
	r.Peak = max(r.Peak, o.Peak)
	r.Issued = max(r.Issued, o.Issued)
	r.Denials += o.Denials
}

// Store is the statistics file.
type Store struct {
	db   *bolt.DB
	keep Retention
}

var buckets = []string{Minute, Hour, Day}

// Open opens (creating) the statistics file at path.
func Open(path string, keep Retention) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("stats %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, keep: keep}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// key orders rows by time, then vendor and feature.
func key(t time.Time, vendor, feature string) []byte {
	b := make([]byte, 8, 8+len(vendor)+len(feature)+1)
	binary.BigEndian.PutUint64(b, uint64(max(t.Unix(), 0))) // before 1970: the first key
	b = append(b, vendor...)
	b = append(b, 0)
	return append(b, feature...)
}

// truncate is the start of the period of res that holds t (UTC).
func truncate(t time.Time, res string) time.Time {
	t = t.UTC()
	switch res {
	case Hour:
		return t.Truncate(time.Hour)
	case Day:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Minute)
}

func put(b *bolt.Bucket, r Row) error {
	k := key(r.Time, r.Vendor, r.Feature)
	if old := b.Get(k); old != nil {
		var o Row
		if err := json.Unmarshal(old, &o); err == nil {
			r.fold(o)
		}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// Record adds what was seen at now: a sample of use (the minute keeps the
// peak) and the denials since the previous sample.
func (s *Store) Record(now time.Time, rows []Row) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(Minute))
		for _, r := range rows {
			r.Time = truncate(now, Minute)
			if err := put(b, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Downsample folds the minutes older than their retention into hours, the
// hours into days, and drops the days past theirs.
func (s *Store) Downsample(now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		steps := []struct {
			from, to string
			keep     time.Duration
		}{{Minute, Hour, s.keep.Minutes}, {Hour, Day, s.keep.Hours}, {Day, "", s.keep.Days}}
		for _, st := range steps {
			limit := key(now.Add(-st.keep), "", "")[:8]
			from := tx.Bucket([]byte(st.from))
			c := from.Cursor()
			var old [][]byte
			for k, v := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0; k, v = c.Next() {
				if st.to != "" {
					var r Row
					if err := json.Unmarshal(v, &r); err != nil {
						return err
					}
					r.Time = truncate(r.Time, st.to)
					if err := put(tx.Bucket([]byte(st.to)), r); err != nil {
						return err
					}
				}
				old = append(old, append([]byte(nil), k...))
			}
			for _, k := range old {
				if err := from.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ErrResolution is the error of an unknown resolution.
var ErrResolution = errors.New("stats: resolution must be minute, hour or day")

// Query returns the rows of res in [from, to), in time order, then vendor
// and feature; res "" gives every resolution, the finest first.
func (s *Store) Query(res string, from, to time.Time) ([]Row, error) {
	which := buckets
	if res != "" {
		if res != Minute && res != Hour && res != Day {
			return nil, ErrResolution
		}
		which = []string{res}
	}
	var out []Row
	err := s.db.View(func(tx *bolt.Tx) error {
		lo, hi := key(from, "", "")[:8], key(to, "", "")[:8]
		for _, name := range which {
			c := tx.Bucket([]byte(name)).Cursor()
			for k, v := c.Seek(lo); k != nil && bytes.Compare(k[:8], hi) < 0; k, v = c.Next() {
				var r Row
				if err := json.Unmarshal(v, &r); err != nil {
					return err
				}
				out = append(out, r)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, err
}

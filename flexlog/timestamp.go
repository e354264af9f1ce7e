package flexlog

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// FlexLM writes a TIMESTAMP line with the date at start, every six hours
// and at midnight, so that a log whose lines carry only the time of day
// can be dated: `0:00:00 (lmgrd) TIMESTAMP 11/29/2026`.

// Timestamp is the message of a TIMESTAMP line for t.
func Timestamp(t time.Time) string {
	return fmt.Sprintf("TIMESTAMP %d/%d/%d", t.Month(), t.Day(), t.Year())
}

// NextTimestamp is when the TIMESTAMP after now is due: the next of
// 0:00, 6:00, 12:00 and 18:00 in now's location (midnight included).
func NextTimestamp(now time.Time) time.Time {
	y, m, d := now.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	for _, h := range []int{6, 12, 18, 24} {
		// AddDate/Date keep the wall clock right across daylight-saving days.
		at := time.Date(y, m, d, h, 0, 0, 0, now.Location())
		if at.After(now) {
			return at
		}
	}
	return day.AddDate(0, 0, 1)
}

// WriteTimestamps logs a TIMESTAMP line now and whenever one is due, until
// ctx ends. clock is the wall clock (nil: time.Now).
func WriteTimestamps(ctx context.Context, log logrus.FieldLogger, clock func() time.Time) {
	if clock == nil {
		clock = time.Now
	}
	now := clock()
	log.Info(Timestamp(now))
	for {
		next := NextTimestamp(now)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now = clock()
		if now.Before(next) { // woke early (a clock step): wait again
			continue
		}
		log.Info(Timestamp(now))
	}
}

package licfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var monthAbbr = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// ParseDate reads a license-file date, d-mmm-yyyy: a day of one or two
// digits, an English month abbreviation in any case and a year of one to four
// digits. "permanent" and a year of 0 (01-jan-0000, 1-jan-0) both mean "never
// expires" and give the zero Date.
func ParseDate(s string) (Date, error) {
	if strings.EqualFold(s, "permanent") {
		return Date{}, nil
	}
	bad := func() (Date, error) {
		return Date{}, fmt.Errorf("date %q: want d-mmm-yyyy, \"permanent\" or year 0", s)
	}
	ds, rest, ok1 := strings.Cut(s, "-")
	ms, ys, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 || !allDigits(ds) || len(ds) > 2 || !allDigits(ys) || len(ys) > 4 {
		return bad()
	}
	year, _ := strconv.Atoi(ys)
	day, _ := strconv.Atoi(ds)
	month := time.Month(0)
	for i, m := range monthAbbr {
		if strings.EqualFold(ms, m) {
			month = time.Month(i + 1)
		}
	}
	if month == 0 {
		return bad()
	}
	if year == 0 {
		return Date{}, nil
	}
	if day < 1 || day > daysIn(month, year) {
		return Date{}, fmt.Errorf("date %q: %s %d has no day %d", s, month, year, day)
	}
	return Date{Year: year, Month: month, Day: day}, nil
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats d as a license file writes it, d-mmm-yyyy with a lower-case
// month (1-jan-2030); the zero Date is "permanent".
func (d Date) String() string {
	if d.IsZero() {
		return "permanent"
	}
	m := "???"
	if d.Month >= time.January && d.Month <= time.December {
		m = monthAbbr[d.Month-1]
	}
	return fmt.Sprintf("%d-%s-%d", d.Day, m, d.Year)
}

// Time returns midnight UTC at the start of d, or the zero Time for the zero
// Date. Compare dates with Compare and DateOf rather than through Time: a
// license date names a calendar day wherever the server runs.
func (d Date) Time() time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e. The zero
// Date sorts first; callers decide what "none" means.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	}
	return cmpInt(d.Day, e.Day)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

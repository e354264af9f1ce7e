package licfile

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    Date
		wantErr bool
	}{
		{"1-jan-2030", Date{2030, time.January, 1}, false},
		{"31-DEC-2020", Date{2020, time.December, 31}, false},
		{"17-Dec-2015", Date{2015, time.December, 17}, false},
		{"29-feb-2024", Date{2024, time.February, 29}, false},
		{"1-jan-99", Date{99, time.January, 1}, false},
		{"permanent", Date{}, false},
		{"PERMANENT", Date{}, false},
		{"01-jan-0000", Date{}, false},
		{"1-jan-0", Date{}, false},
		{"01-jan-00", Date{}, false},
		{"29-feb-2023", Date{}, true},
		{"31-foo-2020", Date{}, true},
		{"0-jan-2020", Date{}, true},
		{"1-jan-20201", Date{}, true},
		{"123-jan-2020", Date{}, true},
		{"1-jan", Date{}, true},
		{"jan-1-2020", Date{}, true},
		{"", Date{}, true},
		{"-jan-2020", Date{}, true},
		{"1-jan-", Date{}, true},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDateString(t *testing.T) {
	tests := []struct {
		d    Date
		want string
	}{
		{Date{2030, time.January, 1}, "1-jan-2030"},
		{Date{2015, time.December, 17}, "17-dec-2015"},
		{Date{}, "permanent"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.d, got, tt.want)
		}
		if tt.d.IsZero() {
			continue
		}
		back, err := ParseDate(tt.want)
		if err != nil || back != tt.d {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.want, back, err, tt.d)
		}
	}
}

func TestDateTimeAndCompare(t *testing.T) {
	d := Date{2030, time.March, 4}
	if got, want := d.Time(), time.Date(2030, time.March, 4, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
	if !(Date{}).Time().IsZero() {
		t.Errorf("zero Date's Time() is not the zero Time")
	}
	east := time.FixedZone("east", 10*3600)
	if got, want := DateOf(time.Date(2030, time.March, 3, 20, 0, 0, 0, time.UTC).In(east)), d; got != want {
		t.Errorf("DateOf uses the time's location: got %v, want %v", got, want)
	}
	for _, tt := range []struct {
		a, b Date
		want int
	}{
		{d, d, 0},
		{d, Date{2030, time.March, 5}, -1},
		{Date{2031, time.January, 1}, d, 1},
		{Date{2030, time.April, 1}, d, 1},
	} {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

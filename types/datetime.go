package types

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Date is a DATE column: a calendar date with no time zone. PostgreSQL's
// infinite dates are rejected when scanned.
type Date struct {
	Year  int        // year, 1 for 1 AD
	Month time.Month // month of the year
	Day   int        // day of the month, from 1
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// In returns midnight of the date in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// String returns the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Valid reports whether d is a real calendar date (the zero Date is not).
func (d Date) Valid() bool { return DateOf(d.In(time.UTC)) == d }

// DateValue implements pgtype.DateValuer. A date that does not exist, such
// as the zero Date or February 30, is an error rather than being silently
// moved.
func (d Date) DateValue() (pgtype.Date, error) {
	if !d.Valid() {
		return pgtype.Date{}, fmt.Errorf("types: %04d-%02d-%02d is not a date", d.Year, int(d.Month), d.Day)
	}
	return pgtype.Date{Time: d.In(time.UTC), Valid: true}, nil
}

// ScanDate implements pgtype.DateScanner.
func (d *Date) ScanDate(v pgtype.Date) error {
	if !v.Valid {
		return errNull("Date")
	}
	if v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("types: cannot scan %v into types.Date", v.InfinityModifier)
	}
	*d = DateOf(v.Time)
	return nil
}

// Time is a TIME column (time of day without time zone) with PostgreSQL's
// microsecond precision.
type Time struct {
	Hour        int // 0–24 (24 only as 24:00:00)
	Minute      int // 0–59
	Second      int // 0–59
	Microsecond int // 0–999999
}

// TimeOf returns the time of day of t, truncated to microseconds.
func TimeOf(t time.Time) Time {
	return Time{Hour: t.Hour(), Minute: t.Minute(), Second: t.Second(), Microsecond: t.Nanosecond() / 1000}
}

// String returns the time as HH:MM:SS or HH:MM:SS.ffffff.
func (t Time) String() string {
	if t.Microsecond == 0 {
		return fmt.Sprintf("%02d:%02d:%02d", t.Hour, t.Minute, t.Second)
	}
	return fmt.Sprintf("%02d:%02d:%02d.%06d", t.Hour, t.Minute, t.Second, t.Microsecond)
}

// TimeValue implements pgtype.TimeValuer. Fields out of range (hour 0–24,
// minute and second 0–59, microsecond 0–999999, at most 24:00:00) are an
// error.
func (t Time) TimeValue() (pgtype.Time, error) {
	if t.Hour < 0 || t.Hour > 24 || t.Minute < 0 || t.Minute > 59 || t.Second < 0 || t.Second > 59 ||
		t.Microsecond < 0 || t.Microsecond > 999999 || (t.Hour == 24 && (t.Minute|t.Second|t.Microsecond) != 0) {
		return pgtype.Time{}, fmt.Errorf("types: time of day %s out of range", t)
	}
	us := ((int64(t.Hour)*60+int64(t.Minute))*60+int64(t.Second))*1e6 + int64(t.Microsecond)
	return pgtype.Time{Microseconds: us, Valid: true}, nil
}

// ScanTime implements pgtype.TimeScanner.
func (t *Time) ScanTime(v pgtype.Time) error {
	if !v.Valid {
		return errNull("Time")
	}
	us := v.Microseconds
	*t = Time{
		Hour:        int(us / 3600e6),
		Minute:      int(us / 60e6 % 60),
		Second:      int(us / 1e6 % 60),
		Microsecond: int(us % 1e6),
	}
	return nil
}

// Interval is an INTERVAL column. Months, days and microseconds are kept
// apart as PostgreSQL keeps them, because a month has no fixed number of
// days and a day no fixed number of seconds (daylight saving): "1 mon"
// round-trips as one month, not 30 days.
type Interval struct {
	Months       int32 // whole months
	Days         int32 // whole days
	Microseconds int64 // the time part
}

// IntervalOf returns an interval of d, held as microseconds.
func IntervalOf(d time.Duration) Interval { return Interval{Microseconds: d.Microseconds()} }

// IntervalValue implements pgtype.IntervalValuer.
func (i Interval) IntervalValue() (pgtype.Interval, error) {
	return pgtype.Interval{Months: i.Months, Days: i.Days, Microseconds: i.Microseconds, Valid: true}, nil
}

// ScanInterval implements pgtype.IntervalScanner.
func (i *Interval) ScanInterval(v pgtype.Interval) error {
	if !v.Valid {
		return errNull("Interval")
	}
	*i = Interval{Months: v.Months, Days: v.Days, Microseconds: v.Microseconds}
	return nil
}

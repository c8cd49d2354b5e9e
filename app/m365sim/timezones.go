package m365sim

import (
	"strings"
	"time"
	_ "time/tzdata" // zone data on machines without it (Windows)
)

// windowsZones maps the Windows time zone names Outlook uses to IANA names
// (from CLDR's windowsZones.xml, the zones a German firm meets).
var windowsZones = map[string]string{
	"UTC": "UTC", "Coordinated Universal Time": "UTC",
	"W. Europe Standard Time": "Europe/Berlin", "Central Europe Standard Time": "Europe/Budapest",
	"Central European Standard Time": "Europe/Warsaw", "Romance Standard Time": "Europe/Paris",
	"GMT Standard Time": "Europe/London", "Greenwich Standard Time": "Atlantic/Reykjavik",
	"E. Europe Standard Time": "Europe/Chisinau", "FLE Standard Time": "Europe/Kiev", "GTB Standard Time": "Europe/Bucharest",
	"Turkey Standard Time": "Europe/Istanbul", "Russian Standard Time": "Europe/Moscow",
	"Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
	"Mountain Standard Time": "America/Denver", "Pacific Standard Time": "America/Los_Angeles",
	"Tokyo Standard Time": "Asia/Tokyo", "China Standard Time": "Asia/Shanghai", "India Standard Time": "Asia/Calcutta",
	"AUS Eastern Standard Time": "Australia/Sydney", "Arabian Standard Time": "Asia/Dubai",
}

// loadZone resolves a Windows or IANA zone name.
func loadZone(name string) (*time.Location, bool) {
	if name == "" {
		return time.UTC, true
	}
	if iana, ok := windowsZones[name]; ok {
		name = iana
	} else {
		for k, v := range windowsZones {
			if strings.EqualFold(k, name) {
				name = v
				break
			}
		}
	}
	if strings.EqualFold(name, "utc") {
		return time.UTC, true
	}
	loc, err := time.LoadLocation(name)
	return loc, err == nil
}

const graphDateTime = "2006-01-02T15:04:05.0000000"

// parseLocalDateTime reads the dateTime of a dateTimeTimeZone in its zone.
// A wall time that occurs twice (the hour before clocks go back) is read as
// standard time, as Windows' TimeZoneInfo does.
func parseLocalDateTime(s string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return preferStandard(t), true
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(loc), true
	}
	return time.Time{}, false
}

// dtz is a parsed dateTimeTimeZone.
type dtz struct {
	t    time.Time
	zone string
}

func parseDTZ(v any) (dtz, *graphError) {
	m, _ := v.(map[string]any)
	if m == nil {
		return dtz{}, invalidRequest("A dateTimeTimeZone value is required.")
	}
	zone, _ := m["timeZone"].(string)
	loc, ok := loadZone(zone)
	if !ok {
		return dtz{}, &graphError{status: 400, code: "TimeZoneNotSupportedException", message: "A valid TimeZone value must be specified. The following TimeZone value is not supported: '" + zone + "'."}
	}
	raw, _ := m["dateTime"].(string)
	t, ok := parseLocalDateTime(raw, loc)
	if !ok {
		return dtz{}, &graphError{status: 400, code: "ErrorInvalidRequest", message: "Cannot convert the literal '" + raw + "' to the expected type 'Edm.DateTimeOffset'."}
	}
	if zone == "" {
		zone = "UTC"
	}
	return dtz{t: t, zone: zone}, nil
}

// render formats an instant in a zone as Graph returns it.
func renderDTZ(t time.Time, zone string) map[string]any {
	loc, ok := loadZone(zone)
	if !ok {
		loc, zone = time.UTC, "UTC"
	}
	return map[string]any{"dateTime": t.In(loc).Format(graphDateTime), "timeZone": zone}
}

// preferStandard picks the standard-time instant of an ambiguous wall time.
func preferStandard(t time.Time) time.Time {
	if !t.IsDST() {
		return t
	}
	for _, shift := range []time.Duration{time.Hour, -time.Hour} {
		alt := t.Add(shift)
		if !alt.IsDST() && alt.Format("2006-01-02T15:04:05") == t.Format("2006-01-02T15:04:05") {
			return alt
		}
	}
	return t
}

package diagnose_test

import (
	"testing"
	"time"

	"kanzleisync/app/diagnose"
)

// A certificate warns from its own end date, at the secret's thresholds.
func TestCertificateWarnings(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		end    time.Time
		key    string
		status diagnose.Status
	}{
		{now.AddDate(1, 0, 0), "", ""},
		{now.AddDate(0, 0, 10), "certificate/Kanzlei/14", diagnose.Yellow},
		{now.AddDate(0, 0, 45), "certificate/Kanzlei/60", diagnose.Yellow},
		{now.Add(-time.Hour), "certificate/Kanzlei/expired", diagnose.Red},
	} {
		ws := diagnose.CertificateWarnings(now, "Kanzlei", tc.end)
		if tc.key == "" {
			if len(ws) != 0 {
				t.Errorf("%v: %+v", tc.end, ws)
			}
			continue
		}
		if len(ws) != 1 || ws[0].Key != tc.key || ws[0].Status != tc.status {
			t.Errorf("end %v: %+v, want %s %s", tc.end, ws, tc.key, tc.status)
		}
	}
}

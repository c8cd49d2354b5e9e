package diagnose_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

func TestSecretThresholds(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		left time.Duration
		key  string
		want diagnose.Status
	}{
		{90 * 24 * time.Hour, "", ""},
		{60*24*time.Hour + time.Hour, "", ""},
		{59 * 24 * time.Hour, "secret/Kanzlei/60", diagnose.Yellow},
		{29 * 24 * time.Hour, "secret/Kanzlei/30", diagnose.Yellow},
		{10 * 24 * time.Hour, "secret/Kanzlei/14", diagnose.Yellow},
		{3 * 24 * time.Hour, "secret/Kanzlei/7", diagnose.Yellow},
		{5 * time.Hour, "secret/Kanzlei/1", diagnose.Yellow},
		{-time.Minute, "secret/Kanzlei/expired", diagnose.Red},
	} {
		ws := diagnose.Warnings(now, []config.Entity{{Name: "Kanzlei", SecretExpires: config.Date{Time: now.Add(tc.left)}}}, nil)
		if tc.key == "" {
			if len(ws) != 0 {
				t.Errorf("%v left: %+v", tc.left, ws)
			}
			continue
		}
		if len(ws) != 1 || ws[0].Key != tc.key || ws[0].Status != tc.want || !strings.Contains(ws[0].Text, "Azure-Portal") {
			t.Errorf("%v left: %+v", tc.left, ws)
		}
	}
}

func TestRefreshTokenUnused(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	w := func(days int) config.Worker {
		return config.Worker{UPN: anna, DisplayName: "Anna Müller", LastSignIn: now.AddDate(0, 0, -200), LastRefresh: now.AddDate(0, 0, -days)}
	}
	if ws := diagnose.Warnings(now, nil, []config.Worker{w(79)}); len(ws) != 0 {
		t.Errorf("79 days: %+v", ws)
	}
	if ws := diagnose.Warnings(now, nil, []config.Worker{w(80)}); len(ws) != 1 || ws[0].Status != diagnose.Yellow || !strings.Contains(ws[0].Text, "Anna Müller") {
		t.Errorf("80 days: %+v", ws)
	}
	if ws := diagnose.Warnings(now, nil, []config.Worker{w(91)}); len(ws) != 1 || ws[0].Status != diagnose.Red || !strings.Contains(ws[0].Text, "„Anmelden“") {
		t.Errorf("91 days: %+v", ws)
	}
	if ws := diagnose.Warnings(now, nil, []config.Worker{{UPN: anna}}); len(ws) != 0 {
		t.Errorf("never signed in: %+v", ws)
	}
}

// Each threshold is notified once per installation, across restarts; the
// next threshold is notified again.
func TestNotifyOncePerThreshold(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "k.db")
	now := time.Now()
	ent := []config.Entity{{Name: "Kanzlei", SecretExpires: config.Date{Time: now.AddDate(0, 0, 40)}}}
	var got []string
	notify := func(w diagnose.Warning) { got = append(got, w.Key) }
	for range 2 { // two runs of the app
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := diagnose.NotifyOnce(context.Background(), st, now, diagnose.Warnings(now, ent, nil), notify); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
	}
	later := now.AddDate(0, 0, 15)
	st, _ := store.Open(path)
	defer st.Close()
	_ = diagnose.NotifyOnce(context.Background(), st, later, diagnose.Warnings(later, ent, nil), notify)
	if strings.Join(got, ",") != "secret/Kanzlei/60,secret/Kanzlei/30" {
		t.Fatalf("notified %v", got)
	}
}

func TestSignInWarning(t *testing.T) {
	w := config.Worker{UPN: anna, DisplayName: "Anna Müller", LastSignIn: time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)}
	err := fmt.Errorf("sync: %w", &auth.SignInRequiredError{UPN: anna, Cause: &auth.EntraError{Status: 400, OAuth: "invalid_grant", Code: 700082,
		Description: "AADSTS700082: The refresh token has expired due to inactivity."}})
	ws, ok := diagnose.SignInWarning(err, w, config.Entity{Name: "Kanzlei"})
	if !ok || ws.Status != diagnose.Red || !strings.HasPrefix(ws.Text, "Anna Müller: ") || ws.Title != "Bitte erneut anmelden" {
		t.Fatalf("%+v %v", ws, ok)
	}
	if strings.Count(strings.ToLower(ws.Text), "erneut anmelden") != 1 {
		t.Errorf("the advice repeats itself: %s", ws.Text)
	}
	w.LastSignIn = w.LastSignIn.AddDate(0, 2, 0) // signed in again, lost again: a new warning
	if again, _ := diagnose.SignInWarning(err, w, config.Entity{Name: "Kanzlei"}); again.Key == ws.Key {
		t.Error("the same key after a new sign-in")
	}
	if _, ok := diagnose.SignInWarning(errors.New("network down"), w, config.Entity{}); ok {
		t.Error("a network error asks for a new sign-in")
	}
}

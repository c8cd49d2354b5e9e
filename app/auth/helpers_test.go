package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	gokeyring "github.com/zalando/go-keyring"
	"golang.org/x/oauth2"

	"kanzleisync/app/m365sim"
)

func simtestChallenge() oauth2.AuthCodeOption {
	return oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
}

func jwtPayload(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func rawEntry(service, key string) (string, error) { return gokeyring.Get(service, key) }

func setRawEntry(service, key, value string) error { return gokeyring.Set(service, key, value) }

type graphProbe struct {
	sim   *m365sim.Server
	token string
}

func (g *graphProbe) get(path string) int {
	req, _ := http.NewRequest("GET", g.sim.GraphURL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

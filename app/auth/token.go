package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// tokenResponse is Entra's answer to a token request.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

type errorResponse struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
}

// postToken sends one request to the token endpoint. x/oauth2 is not used
// for this because its refresh sends no scope, and one refresh token must
// buy tokens for two resources (Graph and Outlook).
func postToken(ctx context.Context, hc *http.Client, tokenURL string, form url.Values, now time.Time) (*oauth2.Token, *tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("token request to %s: %w", redactURL(tokenURL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var er errorResponse
		if json.Unmarshal(body, &er) != nil || er.Error == "" {
			return nil, nil, fmt.Errorf("token endpoint answered %s", resp.Status)
		}
		e := &EntraError{Status: resp.StatusCode, OAuth: er.Error, Description: er.Description, TraceID: er.TraceID, CorrelationID: er.CorrelationID}
		if len(er.ErrorCodes) > 0 {
			e.Code = er.ErrorCodes[0]
		} else {
			e.Code = codeFrom(er.Description)
		}
		return nil, nil, e
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, nil, fmt.Errorf("token endpoint gave no access token")
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken,
		Expiry: now.Add(time.Duration(tr.ExpiresIn) * time.Second)}
	return tok, &tr, nil
}

func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// jwtClaims reads a JWT's payload without checking its signature: the
// token came straight from the token endpoint over TLS (OpenID Connect
// Core 3.1.3.7), and kanzleisync only compares names from it.
func jwtClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// signedInAs names the account of an id_token (or access token).
func signedInAs(tokens ...string) string {
	for _, t := range tokens {
		c := jwtClaims(t)
		for _, k := range []string{"preferred_username", "upn", "unique_name", "email"} {
			if s, _ := c[k].(string); s != "" {
				return s
			}
		}
	}
	return ""
}

package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

var (
	// ErrSignInRequired: the worker must sign in again in the browser
	// (refresh token expired, revoked, or consent withdrawn). Match with
	// errors.Is; errors.As on *SignInRequiredError gives the reason.
	ErrSignInRequired = errors.New("auth: sign in again")
	// ErrCancelled: the person cancelled the sign-in (access_denied) or the
	// caller cancelled the wait.
	ErrCancelled = errors.New("auth: sign-in cancelled")
	// ErrTimeout: no redirect arrived within the wait.
	ErrTimeout = errors.New("auth: sign-in timed out")
	// ErrNoSecret: the entity's client secret is not in the keyring.
	ErrNoSecret = errors.New("auth: no client secret stored")
)

// EntraError is an error answer of Entra ID (token endpoint or redirect).
type EntraError struct {
	Status        int    // HTTP status; 0 for an error from the redirect
	OAuth         string // "invalid_grant", "invalid_client" …
	Code          int    // AADSTS number, 0 when none was given
	Description   string // Entra's error_description (English)
	TraceID       string
	CorrelationID string
}

func (e *EntraError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("entra: %s (AADSTS%d)", e.OAuth, e.Code)
	}
	return "entra: " + e.OAuth
}

var aadstsRE = regexp.MustCompile(`AADSTS(\d+)`)

// codeFrom reads the AADSTS number from a description.
func codeFrom(desc string) int {
	if m := aadstsRE.FindStringSubmatch(desc); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// signInCodes are invalid_grant codes that only a new sign-in resolves.
var signInCodes = map[int]bool{
	70008: true, 700082: true, 50173: true, 70043: true, 700084: true, 65001: true,
	50076: true, 50079: true, 50078: true, 9002313: true, 50126: true, 50034: true, 53003: true,
}

// SignInRequiredError says which worker must sign in again and why.
type SignInRequiredError struct {
	UPN   string
	Cause *EntraError // nil when no refresh token is stored at all
}

func (e *SignInRequiredError) Error() string {
	if e.Cause == nil {
		return fmt.Sprintf("auth: %s must sign in (no refresh token stored)", e.UPN)
	}
	return fmt.Sprintf("auth: %s must sign in again: %v", e.UPN, e.Cause)
}

func (e *SignInRequiredError) Is(target error) bool { return target == ErrSignInRequired }

func (e *SignInRequiredError) Unwrap() error {
	if e.Cause == nil {
		return nil
	}
	return e.Cause
}

// WrongAccountError: the browser signed in another account than the worker's.
type WrongAccountError struct {
	Want, Got string
}

func (e *WrongAccountError) Error() string {
	return fmt.Sprintf("auth: signed in as %s, expected %s", e.Got, e.Want)
}

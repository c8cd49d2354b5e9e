package m365sim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Browser is a cookie-keeping HTTP client that fills in the emulator's
// sign-in pages as a person would, without following the final redirect.
type Browser struct {
	Client *http.Client
}

// NewBrowser returns a browser with an empty session.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is one answer of the emulator to the browser.
type Page struct {
	Status   int
	Location string // redirect target, if any
	Body     string
	Flow     string
	Action   string
	base     string
}

var (
	flowRE   = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func (b *Browser) do(req *http.Request) (*Page, error) {
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body),
		base: req.URL.Scheme + "://" + req.URL.Host}
	if m := flowRE.FindStringSubmatch(p.Body); m != nil {
		p.Flow = m[1]
	}
	if m := actionRE.FindStringSubmatch(p.Body); m != nil {
		p.Action = m[1]
	}
	return p, nil
}

// Get opens a URL.
func (b *Browser) Get(u string) (*Page, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// Submit posts a page's form with the given fields.
func (b *Browser) Submit(p *Page, fields url.Values) (*Page, error) {
	if p.Action == "" {
		return nil, fmt.Errorf("page has no form (status %d): %.300s", p.Status, p.Body)
	}
	fields.Set("flow", p.Flow)
	req, err := http.NewRequest(http.MethodPost, p.base+p.Action, strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// SignIn walks the pages of an authorization request: it signs in with
// upn/password when asked, picks the account on the account picker and
// accepts consent. It returns the final redirect's query.
func (b *Browser) SignIn(authURL, upn, password string) (url.Values, error) {
	p, err := b.walk(authURL, upn, password)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		return nil, err
	}
	return u.Query(), nil
}

// SignInAndDeliver walks the sign-in pages for authURL and then delivers the
// final redirect to the application's loopback listener, as a browser does,
// returning the listener's page.
func (b *Browser) SignInAndDeliver(authURL, upn, password string) (*Page, error) {
	p, err := b.walk(authURL, upn, password)
	if err != nil {
		return nil, err
	}
	return b.Get(p.Location)
}

// walk fills in the pages until Entra redirects; it returns that page.
func (b *Browser) walk(authURL, upn, password string) (*Page, error) {
	p, err := b.Get(authURL)
	if err != nil {
		return nil, err
	}
	for range 6 {
		if p.Location != "" {
			return p, nil
		}
		switch {
		case strings.Contains(p.Body, `name="passwd"`):
			p, err = b.Submit(p, url.Values{"loginfmt": {upn}, "passwd": {password}})
		case strings.Contains(p.Body, `name="account"`):
			acct := "other"
			if strings.Contains(p.Body, `value="`+upn+`"`) {
				acct = upn
			}
			p, err = b.Submit(p, url.Values{"account": {acct}})
		case strings.Contains(p.Body, `name="accept"`):
			p, err = b.Submit(p, url.Values{"accept": {"yes"}})
		default:
			return nil, fmt.Errorf("unexpected page (status %d): %.500s", p.Status, p.Body)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("sign-in did not finish")
}

// AnswerSignIn plays the person at the browser for an authorization link:
// it signs in as the user named by login_hint with password and delivers
// the code to the application's loopback listener, in the background. It
// is an OpenBrowser for auth.SignInOptions in the demo and in tests; errors
// go to report (nil: dropped).
func AnswerSignIn(password string, report func(error)) func(link string) error {
	return func(link string) error {
		u, err := url.Parse(link)
		if err != nil {
			return err
		}
		upn := u.Query().Get("login_hint")
		go func() {
			if _, err := NewBrowser().SignInAndDeliver(link, upn, password); err != nil && report != nil {
				report(err)
			}
		}()
		return nil
	}
}

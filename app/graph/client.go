package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"golang.org/x/oauth2"
)

// TokenSource is an auth token source as the client needs it (*auth.TokenSource).
type TokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
	Renew(ctx context.Context) (*oauth2.Token, error)
}

// MaxBatch is Graph's limit of requests in one JSON batch.
const MaxBatch = 20

// MailboxConcurrency is Outlook's limit of concurrent requests per
// application and mailbox.
const MailboxConcurrency = 4

// Request is one Graph call. URL is relative to the version root, e.g.
// "/users/anna@kanzlei.de/events".
type Request struct {
	ID     string
	Method string
	URL    string
	Body   any // encoded as JSON; nil for none
	// Raw is a body sent as it is (with its Content-Type in Headers),
	// instead of Body: the MIME of sendMail. Not for $batch.
	Raw     []byte
	Headers map[string]string
}

// Response is the answer to one Request.
type Response struct {
	ID        string
	Status    int
	Header    http.Header
	Body      json.RawMessage
	RequestID string
	Err       error // transport failure, or the Graph error of a final 4xx/5xx
}

// OK reports a 2xx answer.
func (r Response) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Error is Graph's error answer.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *Error) Error() string { return fmt.Sprintf("graph: %d %s: %s", e.Status, e.Code, e.Message) }

// Client sends requests through msgraph-sdk-go's HTTP pipeline.
// One Client serves one mailbox: its Budget keeps at most
// MailboxConcurrency requests (batch items counted one by one) in flight
// and the mailbox under Microsoft's requests per window.
type Client struct {
	base   string // e.g. https://graph.microsoft.com/v1.0
	ts     TokenSource
	hc     *http.Client
	pacer  *Pacer
	log    *slog.Logger
	budget *Budget
}

// Options configure a Client.
type Options struct {
	Pacer  *Pacer
	Logger *slog.Logger
	// Budget is the mailbox's budget, shared by every client of the
	// mailbox (SharedBudget); nil gives the client one of its own.
	Budget *Budget
}

// NewHTTPClient is kiota's pipeline with a fixed middleware order and no
// retry handler (retries are the Pacer's, with a fresh request each time).
func NewHTTPClient() *http.Client {
	opts := msgraphsdk.GetDefaultClientOptions()
	hc := khttp.GetDefaultClient(
		msgraphgocore.NewGraphTelemetryHandler(&opts),
		khttp.NewCompressionHandler(),
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	)
	hc.Timeout = 100 * time.Second
	return hc
}

// New returns a client for the Graph endpoint (config.Entity.GraphEndpoint).
func New(endpoint string, ts TokenSource, o Options) *Client {
	if o.Pacer == nil {
		o.Pacer = NewPacer()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Budget == nil {
		o.Budget = NewBudget(DefaultLimits())
	}
	return &Client{base: strings.TrimRight(endpoint, "/") + "/v1.0", ts: ts, hc: NewHTTPClient(), pacer: o.Pacer, log: o.Logger,
		budget: o.Budget}
}

// RememberHoldOffs keeps the mailbox's Retry-Afters in s (the state DB), so
// that a process started after this one — after a crash, or the CLI beside
// the tray — waits for a Retry-After this one was given.
func (c *Client) RememberHoldOffs(ctx context.Context, s HoldOffStore, mailbox string) {
	c.budget.remember(ctx, s, strings.ToLower(strings.TrimSuffix(c.base, "/v1.0")+"|"+mailbox))
}

// acquire takes n of the mailbox's concurrency slots (released by the
// returned function).
func (c *Client) acquire(ctx context.Context, n int) (func(), error) { return c.budget.slot(ctx, n) }

// holdOff remembers a Retry-After for the whole mailbox.
func (c *Client) holdOff(d time.Duration) { c.budget.holdOff(d) }

// waitTurn sleeps until the mailbox's Retry-After has passed.
func (c *Client) waitTurn(ctx context.Context) error {
	for {
		until := c.budget.heldOff()
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		if err := c.pacer.Sleep(ctx, d); err != nil {
			return err
		}
		c.budget.clearHoldOff(until) // the pacer's clock may not be the wall clock (tests)
	}
}

// admit waits for the mailbox's Retry-After and for room in its budget
// for cost requests; answered must be called when the answer has come.
func (c *Client) admit(ctx context.Context, cost int) (answered func(), err error) {
	for {
		if err := c.waitTurn(ctx); err != nil {
			return nil, err
		}
		answered, err := c.budget.reserve(ctx, cost)
		if !errors.Is(err, errHeldOff) {
			return answered, err
		}
	}
}

// send makes one HTTP exchange: a fresh request every time, so that a
// retry never re-sends a body that was already read.
// cost is what it counts against the mailbox's budget (a batch's items).
func (c *Client) send(ctx context.Context, method, url string, body []byte, headers map[string]string, renew bool, cost int) (*http.Response, []byte, error) {
	var tok *oauth2.Token
	var err error
	if renew {
		tok, err = c.ts.Renew(ctx)
	} else {
		tok, err = c.ts.TokenContext(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+url, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	// admitted last, after the token, so that a Retry-After that comes
	// meanwhile still holds this request back
	answered, err := c.admit(ctx, cost)
	if err != nil {
		return nil, nil, err
	}
	defer answered()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		c.holdOff(retryAfter(resp.Header))
	}
	return resp, raw, err
}

// do runs one request under the pacer, with one token renewal on 401.
func (c *Client) do(ctx context.Context, method, url string, body []byte, headers map[string]string, cost int) (*http.Response, []byte, error) {
	var resp *http.Response
	var raw []byte
	renewed := false
	err := c.pacer.Call(ctx, func() (bool, time.Duration, error) {
		var err error
		resp, raw, err = c.send(ctx, method, url, body, headers, false, cost)
		c.logRequest(method, url, len(body), resp, raw, err)
		if err == nil && resp.StatusCode == http.StatusUnauthorized && !renewed {
			renewed = true
			resp, raw, err = c.send(ctx, method, url, body, headers, true, cost)
			c.logRequest(method, url, len(body), resp, raw, err)
		}
		if err != nil {
			retry, _ := ShouldRetry(ctx, 0, nil, err)
			return retry, 0, err
		}
		if retry, after := ShouldRetry(ctx, resp.StatusCode, resp.Header, nil); retry {
			return true, after, graphError(resp.StatusCode, resp.Header, raw)
		}
		return false, 0, nil
	})
	if err != nil && resp == nil {
		return nil, nil, err
	}
	return resp, raw, nil
}

// logRequest records one attempt at debug level for the transfer log:
// never a header, so never a token.
func (c *Client) logRequest(method, url string, sent int, resp *http.Response, raw []byte, err error) {
	if !c.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if strings.HasPrefix(url, "/") {
		url = c.base + url
	}
	if err != nil {
		c.log.Debug("graph request", "method", method, "url", url, "error", err.Error())
		return
	}
	c.log.Debug("graph request", "method", method, "url", url, "status", resp.StatusCode,
		"request_id", resp.Header.Get("request-id"), "bytes_out", sent, "bytes_in", len(raw))
}

// Do sends one request with retries.
func (c *Client) Do(ctx context.Context, r Request) Response {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = json.Marshal(r.Body); err != nil {
			return Response{ID: r.ID, Err: fmt.Errorf("encode %s %s: %w", r.Method, r.URL, err)}
		}
	}
	if r.Raw != nil {
		body = r.Raw
	}
	release, err := c.acquire(ctx, 1)
	if err != nil {
		return Response{ID: r.ID, Err: err}
	}
	resp, raw, err := c.do(ctx, r.Method, r.URL, body, r.Headers, 1)
	release()
	if err != nil {
		return Response{ID: r.ID, Err: err}
	}
	out := Response{ID: r.ID, Status: resp.StatusCode, Header: resp.Header, Body: raw, RequestID: resp.Header.Get("request-id")}
	if !out.OK() {
		out.Err = graphError(resp.StatusCode, resp.Header, raw)
	}
	return out
}

func graphError(status int, h http.Header, raw []byte) *Error {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	ge := &Error{Status: status, Code: e.Error.Code, Message: e.Error.Message, RequestID: e.Error.InnerError.RequestID}
	if ge.RequestID == "" && h != nil {
		ge.RequestID = h.Get("request-id")
	}
	if ge.Code == "" {
		ge.Code = http.StatusText(status)
	}
	return ge
}

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

type batchAnswer struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// Batch sends requests in JSON batches of up to 20, two batches in flight,
// each with two chains of items (dependsOn), so that at most four run at
// once in a mailbox. Items answered 429, 503, 504, 500, 502 or 424 are
// sent again on their own schedule (Retry-After, else backoff) until they
// succeed, fail for good, or the attempts run out; the answers come back in
// the order of reqs.
func (c *Client) Batch(ctx context.Context, reqs []Request) []Response {
	out := make([]Response, len(reqs))
	index := map[string]int{}
	for i := range reqs {
		if reqs[i].ID == "" {
			reqs[i].ID = fmt.Sprint(i)
		}
		index[reqs[i].ID] = i
	}
	pending := make([]int, len(reqs))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt >= c.pacer.MaxAttempts {
			for _, i := range pending {
				if out[i].Err == nil {
					out[i] = Response{ID: reqs[i].ID, Err: ErrGaveUp}
				}
				out[i].Err = errors.Join(ErrGaveUp, out[i].Err)
			}
			break
		}
		var retry []int
		var wait time.Duration
		var chunks [][]int
		for start := 0; start < len(pending); start += MaxBatch {
			chunks = append(chunks, pending[start:min(start+MaxBatch, len(pending))])
		}
		results := c.sendBatches(ctx, reqs, chunks)
		for ci, chunk := range chunks {
			answers, err := results[ci].answers, results[ci].err
			if err != nil {
				for _, i := range chunk {
					out[i] = Response{ID: reqs[i].ID, Err: err}
				}
				if ctx.Err() != nil {
					return out
				}
				continue
			}
			for _, a := range answers {
				i, ok := index[a.ID]
				if !ok {
					continue
				}
				h := http.Header{}
				for k, v := range a.Headers {
					h.Set(k, v)
				}
				r := Response{ID: a.ID, Status: a.Status, Header: h, Body: a.Body, RequestID: h.Get("request-id")}
				if r.RequestID == "" {
					r.RequestID = results[ci].requestID
				}
				if !r.OK() {
					ge := graphError(a.Status, h, a.Body)
					if ge.RequestID == "" {
						ge.RequestID = r.RequestID
					}
					r.Err, r.RequestID = ge, ge.RequestID
				}
				out[i] = r
				if again, after := ShouldRetry(ctx, a.Status, h, nil); again || a.Status == http.StatusFailedDependency {
					retry = append(retry, i)
					wait = max(wait, after)
					c.holdOff(after)
				}
			}
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		c.log.Debug("batch items to retry", "count", len(pending), "retryAfter", wait.String())
		if wait <= 0 {
			// no Retry-After (5xx, 424): back off; otherwise waitTurn waits
			if err := c.pacer.Sleep(ctx, c.pacer.backoff(attempt)); err != nil {
				return out
			}
		}
	}
	return out
}

// parallelBatches is how many $batch requests are in flight at once; each
// runs MailboxConcurrency/parallelBatches chains, so that no more than
// MailboxConcurrency items run in the mailbox at once while the network's
// latency of one batch overlaps with the next.
const parallelBatches = 2

type batchResult struct {
	answers   []batchAnswer
	requestID string // of the $batch request
	err       error
}

// sendBatches posts the chunks, parallelBatches at a time.
func (c *Client) sendBatches(ctx context.Context, reqs []Request, chunks [][]int) []batchResult {
	results := make([]batchResult, len(chunks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallelBatches, len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ci := range next {
				a, id, err := c.sendBatch(ctx, reqs, chunks[ci])
				results[ci] = batchResult{a, id, err}
			}
		}()
	}
	for ci := range chunks {
		next <- ci
	}
	close(next)
	wg.Wait()
	return results
}

// sendBatch posts one $batch (under the pacer for the batch as a whole).
func (c *Client) sendBatch(ctx context.Context, reqs []Request, chunk []int) ([]batchAnswer, string, error) {
	items := make([]batchItem, len(chunk))
	for k, i := range chunk {
		r := reqs[i]
		it := batchItem{ID: r.ID, Method: r.Method, URL: r.URL, Headers: map[string]string{}}
		for hk, hv := range r.Headers {
			it.Headers[hk] = hv
		}
		if r.Body != nil {
			b, err := json.Marshal(r.Body)
			if err != nil {
				return nil, "", fmt.Errorf("encode %s %s: %w", r.Method, r.URL, err)
			}
			it.Body = b
			it.Headers["Content-Type"] = "application/json"
		}
		if chains := MailboxConcurrency / parallelBatches; k >= chains {
			it.DependsOn = []string{reqs[chunk[k-chains]].ID}
		}
		items[k] = it
	}
	body, err := json.Marshal(map[string]any{"requests": items})
	if err != nil {
		return nil, "", err
	}
	release, err := c.acquire(ctx, min(len(chunk), MailboxConcurrency/parallelBatches))
	if err != nil {
		return nil, "", err
	}
	resp, raw, err := c.do(ctx, http.MethodPost, "/$batch", body, nil, len(chunk))
	release()
	if err != nil {
		return nil, "", fmt.Errorf("batch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("batch: %w", graphError(resp.StatusCode, resp.Header, raw))
	}
	var answer struct {
		Responses []batchAnswer `json:"responses"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, "", fmt.Errorf("batch answer: %w", err)
	}
	// a throttled item holds the mailbox before the next batch leaves
	for _, a := range answer.Responses {
		if a.Status == http.StatusTooManyRequests || a.Status == http.StatusServiceUnavailable {
			h := http.Header{}
			for k, v := range a.Headers {
				h.Set(k, v)
			}
			c.holdOff(retryAfter(h))
		}
	}
	// the batch's request-id is what Microsoft's support asks for; items
	// without one of their own are known by it
	return answer.Responses, resp.Header.Get("request-id"), nil
}

// GetAll reads a collection with all its pages (@odata.nextLink).
func (c *Client) GetAll(ctx context.Context, url string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for url != "" {
		r := c.Do(ctx, Request{Method: http.MethodGet, URL: url})
		if r.Err != nil {
			return nil, fmt.Errorf("read %s: %w", strings.SplitN(url, "?", 2)[0], r.Err)
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil, fmt.Errorf("read %s: %w", url, err)
		}
		all = append(all, page.Value...)
		url = strings.TrimPrefix(page.NextLink, c.base)
		if url != "" && !strings.HasPrefix(url, "/") {
			return nil, fmt.Errorf("read: next page %q is not on %s", page.NextLink, c.base)
		}
	}
	return all, nil
}

// UploadChunk is Microsoft's advice for an upload session's byte ranges:
// under 4 MB each (a multiple of 320 KiB).
const UploadChunk = 12 * 320 << 10

// Upload sends data to an upload session's pre-authenticated URL (an
// attachment's createUploadSession) in ranges, in order, without an
// Authorization header. A 429 or 5xx is retried under the pacer; any other
// failure ends the upload (the caller starts again with a new session).
func (c *Client) Upload(ctx context.Context, uploadURL string, data []byte) Response {
	total := len(data)
	var last Response
	for from := 0; from < total; from += UploadChunk {
		to := min(from+UploadChunk, total)
		chunk := data[from:to]
		var resp *http.Response
		var raw []byte
		err := c.pacer.Call(ctx, func() (bool, time.Duration, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, bytes.NewReader(chunk))
			if err != nil {
				return false, 0, err
			}
			answered, err := c.admit(ctx, 1)
			if err != nil {
				return false, 0, err
			}
			defer answered()
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, total))
			req.ContentLength = int64(len(chunk))
			resp, err = c.hc.Do(req)
			if err != nil {
				return false, 0, err // the range may have arrived: no blind retry
			}
			defer resp.Body.Close()
			raw, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			c.log.Debug("graph upload", "range_from", from, "range_to", to-1, "total", total, "status", resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
				c.holdOff(retryAfter(resp.Header))
				return true, retryAfter(resp.Header), graphError(resp.StatusCode, resp.Header, raw)
			}
			return false, 0, nil
		})
		if err != nil && resp == nil {
			return Response{Err: fmt.Errorf("upload bytes %d-%d of %d: %w", from, to-1, total, err)}
		}
		last = Response{Status: resp.StatusCode, Header: resp.Header, Body: raw, RequestID: resp.Header.Get("request-id")}
		if !last.OK() {
			last.Err = graphError(resp.StatusCode, resp.Header, raw)
			return last
		}
	}
	return last
}

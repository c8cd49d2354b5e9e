package m365sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBatch is Graph's limit of requests in one JSON batch.
const maxBatch = 20

// answerGrace: a client learns of a Retry-After only once the answer has
// arrived and been read (for a batch item: the whole batch answer); a
// request it had already under way in that moment, sent by another of its
// four connections, is not held against it — no client could have known.
const answerGrace = 50 * time.Millisecond

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// serveBatch runs POST /$batch: each request on its own (throttled and
// faulted one by one), dependsOn chains in order, 424 after a failed dependency.
func (s *Server) serveBatch(req *greq, c *caller) *gresp {
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(req.body))
	if len(bytes.TrimSpace(req.body)) == 0 {
		return errResp(&graphError{status: 400, code: "BadRequest", message: "Empty Payload. JSON content expected."})
	}
	if err := dec.Decode(&in); err != nil {
		return errResp(&graphError{status: 400, code: "BadRequest", message: "Invalid batch payload format."})
	}
	if len(in.Requests) == 0 {
		return errResp(&graphError{status: 400, code: "BadRequest", message: "Invalid batch payload format: the batch contains no requests."})
	}
	if len(in.Requests) > maxBatch {
		return errResp(&graphError{status: 400, code: "BadRequest", message: fmt.Sprintf("The batch contains %d requests; at most %d are allowed.", len(in.Requests), maxBatch)})
	}
	index := map[string]int{}
	for i, r := range in.Requests {
		if r.ID == "" {
			return errResp(&graphError{status: 400, code: "BadRequest", message: "Invalid batch payload format: every request needs an id."})
		}
		if _, dup := index[strings.ToLower(r.ID)]; dup {
			return errResp(&graphError{status: 400, code: "BadRequest", message: fmt.Sprintf("Batch request id '%s' is used more than once.", r.ID)})
		}
		index[strings.ToLower(r.ID)] = i
		if !strings.HasPrefix(r.URL, "/") {
			return errResp(&graphError{status: 400, code: "BadRequest", message: fmt.Sprintf("Invalid URL '%s' in request '%s': batch request URLs are relative, e.g. /me/events.", r.URL, r.ID)})
		}
		if len(r.Body) > 0 && string(r.Body) != "null" && headerValue(r.Headers, "Content-Type") == "" {
			return errResp(&graphError{status: 400, code: "BadRequest", message: fmt.Sprintf("Write request id : %s does not contain Content-Type header or body.", r.ID)})
		}
	}
	for _, r := range in.Requests {
		for _, d := range r.DependsOn {
			if _, ok := index[strings.ToLower(d)]; !ok {
				return errResp(&graphError{status: 400, code: "BadRequest", message: fmt.Sprintf("Request '%s' depends on unknown request '%s'.", r.ID, d)})
			}
		}
	}
	req.throttled = &throttleNotes{}
	results := make([]map[string]any, len(in.Requests))
	statuses := make([]int, len(in.Requests))
	done := make([]chan struct{}, len(in.Requests))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, r := range in.Requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			failedDep := false
			for _, d := range r.DependsOn {
				j := index[strings.ToLower(d)]
				<-done[j]
				if st := statuses[j]; st < 200 || st > 299 {
					failedDep = true
				}
			}
			var resp *gresp
			if failedDep {
				resp = errResp(&graphError{status: 424, code: "FailedDependency", message: "The request could not be run because a request it depends on failed."})
			} else {
				resp = s.execBatchItem(req, c, r)
			}
			statuses[i] = resp.status
			results[i] = s.batchResponse(req, r.ID, resp)
		}()
	}
	wg.Wait()
	for _, n := range req.throttled.notes {
		s.noteRetryAfterFrom(n.key, n.e, answerGrace)
	}
	// Graph answers in an order of its own; clients must match by id.
	out := make([]any, len(results))
	s.mu.Lock()
	for i, j := range s.rng.Perm(len(results)) {
		out[i] = results[j]
	}
	s.mu.Unlock()
	return &gresp{status: 200, body: map[string]any{"responses": out}}
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func (s *Server) execBatchItem(outer *greq, c *caller, r batchRequest) *gresp {
	u, err := url.Parse(r.URL)
	if err != nil {
		return errResp(invalidRequest("The request URL is not valid."))
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	h.Set("Authorization", outer.header.Get("Authorization"))
	var body []byte
	if len(r.Body) > 0 && string(r.Body) != "null" {
		body = r.Body
		// a non-JSON body travels base64-encoded
		var str string
		if json.Unmarshal(r.Body, &str) == nil {
			if dec, err := base64.StdEncoding.DecodeString(str); err == nil {
				body = dec
			}
		}
	}
	s.mu.Lock()
	reqID := s.newGUID()
	s.mu.Unlock()
	sub := &greq{method: strings.ToUpper(r.Method), path: strings.TrimPrefix(u.Path, "/v1.0"), query: u.Query(), header: h,
		body: body, claims: outer.claims, requestID: reqID, clientReqID: outer.clientReqID, inBatch: true, received: outer.received,
		throttled: outer.throttled}
	resp := s.execGraph(sub, c)
	entry := LoggedRequest{Time: s.Now(), Service: "graph", Method: sub.method, Path: u.Path, Query: u.RawQuery,
		Body: truncateForLog(body), Status: resp.status, RequestID: reqID, InBatch: true, BatchID: r.ID}
	entry.App, entry.User = outer.logIdentity()
	if resp.err != nil {
		entry.ErrorCode = resp.err.code
	}
	s.logRequest(entry)
	return resp
}

func (s *Server) batchResponse(outer *greq, id string, resp *gresp) map[string]any {
	headers := map[string]string{}
	for k, vs := range resp.header {
		headers[k] = strings.Join(vs, ",")
	}
	out := map[string]any{"id": id, "status": resp.status}
	switch {
	case resp.err != nil:
		headers["Content-Type"] = "application/json"
		if resp.err.retryAfter > 0 {
			headers["Retry-After"] = fmt.Sprint(resp.err.retryAfter)
		}
		out["body"] = s.errorBody(outer, resp.err)
	case resp.raw != nil:
		if headers["Content-Type"] == "" {
			headers["Content-Type"] = "application/octet-stream"
		}
		out["body"] = base64.StdEncoding.EncodeToString(resp.raw)
	case resp.body != nil:
		headers["Content-Type"] = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
		out["body"] = resp.body
	}
	if len(headers) > 0 {
		out["headers"] = headers
	}
	return out
}

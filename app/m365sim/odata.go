package m365sim

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// query holds the OData system query options of a request.
type query struct {
	selectProps []string
	top, skip   int
	hasTop      bool
	filter      func(it *item) bool
	expandExt   *extFilter // $expand=singleValueExtendedProperties(...)
	expandLinks bool       // $expand=linkedResources (To Do)
	orderBy     string
	desc        bool
}

// extFilter selects expanded extended properties: all, or those with one id.
type extFilter struct{ id string }

func badQuery(format string, args ...any) *graphError {
	return &graphError{status: 400, code: "BadRequest", message: fmt.Sprintf(format, args...)}
}

func filterError() *graphError {
	return &graphError{status: 400, code: "ErrorInvalidUrlQueryFilter", message: "The query filter contains one or more invalid nodes."}
}

// parseQuery reads $select, $top, $skip, $filter, $expand and $orderby for a schema.
func parseQuery(v url.Values, schema string) (*query, *graphError) {
	q := &query{}
	for k := range v {
		if strings.HasPrefix(k, "$") {
			switch k {
			case "$select", "$top", "$skip", "$filter", "$expand", "$orderby", "$count", "$skiptoken":
			default:
				return nil, badQuery("Query option '%s' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.", strings.TrimPrefix(k, "$"))
			}
		}
	}
	props := schemas[schema]
	if sel := v.Get("$select"); sel != "" {
		for _, p := range strings.Split(sel, ",") {
			p = strings.TrimSpace(p)
			if _, ok := props[p]; !ok && p != "id" {
				return nil, &graphError{status: 400, code: "RequestBroker--ParseUri", message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", p, entityType[schema])}
			}
			q.selectProps = append(q.selectProps, p)
		}
	}
	for _, opt := range []struct {
		name string
		dst  *int
	}{{"$top", &q.top}, {"$skip", &q.skip}} {
		if raw := v.Get(opt.name); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				return nil, badQuery("Invalid value '%s' for query option '%s'. The value must be a non-negative integer.", raw, opt.name)
			}
			*opt.dst = n
			if opt.name == "$top" {
				q.hasTop = true
			}
		}
	}
	if q.hasTop && q.top > 1000 {
		q.top = 1000
	}
	if ex := v.Get("$expand"); ex != "" {
		if err := q.parseExpand(ex, schema); err != nil {
			return nil, err
		}
	}
	if f := v.Get("$filter"); f != "" {
		pred, err := parseFilter(f, schema)
		if err != nil {
			return nil, err
		}
		q.filter = pred
	}
	if ob := strings.TrimSpace(v.Get("$orderby")); ob != "" {
		parts := strings.Fields(ob)
		q.orderBy = parts[0]
		if len(parts) > 1 {
			switch strings.ToLower(parts[1]) {
			case "desc":
				q.desc = true
			case "asc":
			default:
				return nil, badQuery("Syntax error at position %d in '%s'.", len(parts[0])+1, ob)
			}
		}
		root := strings.Split(q.orderBy, "/")[0]
		if _, ok := props[root]; !ok {
			return nil, &graphError{status: 400, code: "RequestBroker--ParseUri", message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", root, entityType[schema])}
		}
	}
	return q, nil
}

var expandExtRE = regexp.MustCompile(`^singleValueExtendedProperties(?:\(\$filter=id eq '([^']+)'\))?$`)

func (q *query) parseExpand(ex, schema string) *graphError {
	for _, part := range splitTopLevel(ex) {
		part = strings.TrimSpace(part)
		switch {
		case expandExtRE.MatchString(part) && schemas[schema]["singleValueExtendedProperties"].t == tObjectColl:
			m := expandExtRE.FindStringSubmatch(part)
			q.expandExt = &extFilter{id: m[1]}
		case part == "linkedResources" && schema == "todoTask":
			q.expandLinks = true
		default:
			return &graphError{status: 400, code: "RequestBroker--ParseUri", message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", strings.SplitN(part, "(", 2)[0], entityType[schema])}
		}
	}
	return nil
}

// splitTopLevel splits on commas that are not inside parentheses.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

var (
	anyExtRE   = regexp.MustCompile(`^singleValueExtendedProperties/any\((\w+):\s*(.+)\)$`)
	anyMailRE  = regexp.MustCompile(`^emailAddresses/any\((\w+):\s*(\w+)/address\s+eq\s+'((?:[^']|'')*)'\)$`)
	cmpRE      = regexp.MustCompile(`^([A-Za-z][\w/]*)\s+(eq|ne|ge|gt|le|lt)\s+(.+)$`)
	epCmpRE    = regexp.MustCompile(`^(\w+)/(id|value)\s+eq\s+'((?:[^']|'')*)'$`)
	andSplitRE = regexp.MustCompile(`(?i)\s+and\s+`)
)

// parseFilter supports what Outlook supports and kanzleisync needs:
// comparisons of scalar properties joined by "and", and the extended
// property lambda singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…'),
// and on contacts emailAddresses/any(a:a/address eq '…').
func parseFilter(f, schema string) (func(*item) bool, *graphError) {
	f = strings.TrimSpace(f)
	if m := anyExtRE.FindStringSubmatch(normAny(f)); m != nil {
		if schemas[schema]["singleValueExtendedProperties"].t != tObjectColl {
			return nil, filterError()
		}
		var id, value string
		var hasValue bool
		for _, part := range andSplitRE.Split(m[2], -1) {
			pm := epCmpRE.FindStringSubmatch(strings.TrimSpace(part))
			if pm == nil || pm[1] != m[1] {
				return nil, filterError()
			}
			lit := strings.ReplaceAll(pm[3], "''", "'")
			if pm[2] == "id" {
				id = lit
			} else {
				value, hasValue = lit, true
			}
		}
		if id == "" {
			return nil, filterError()
		}
		return func(it *item) bool {
			// the value compares without case, as Graph documents
			v, ok := it.extValue(id)
			return ok && (!hasValue || strings.EqualFold(v, value))
		}, nil
	}
	if m := anyMailRE.FindStringSubmatch(normAny(f)); m != nil {
		if schema != "contact" || m[1] != m[2] {
			return nil, filterError()
		}
		want := strings.ReplaceAll(m[3], "''", "'")
		return func(it *item) bool {
			for _, a := range asSlice(it.Props["emailAddresses"]) {
				if am, _ := a.(map[string]any); am != nil && strings.EqualFold(fmt.Sprint(am["address"]), want) {
					return true
				}
			}
			return false
		}, nil
	}
	var preds []func(*item) bool
	for _, part := range andSplitRE.Split(f, -1) {
		m := cmpRE.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return nil, filterError()
		}
		path, op, lit := m[1], m[2], strings.TrimSpace(m[3])
		if _, ok := schemas[schema][strings.Split(path, "/")[0]]; !ok && path != "id" {
			return nil, &graphError{status: 400, code: "RequestBroker--ParseUri", message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", path, entityType[schema])}
		}
		want, err := parseLiteral(lit)
		if err != nil {
			return nil, filterError()
		}
		preds = append(preds, func(it *item) bool { return compare(it.lookup(path), op, want) })
	}
	return func(it *item) bool {
		for _, p := range preds {
			if !p(it) {
				return false
			}
		}
		return true
	}, nil
}

// normAny accepts "Any" and "any" as Graph does.
func normAny(f string) string {
	return strings.Replace(f, "/Any(", "/any(", 1)
}

func parseLiteral(lit string) (any, error) {
	switch {
	case strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2:
		return strings.ReplaceAll(lit[1:len(lit)-1], "''", "'"), nil
	case lit == "true" || lit == "false":
		return lit == "true", nil
	case lit == "null":
		return nil, nil
	}
	if t := parseDateTimeOffset(lit); !t.IsZero() && strings.Contains(lit, "T") {
		return t, nil
	}
	if n, err := strconv.ParseFloat(lit, 64); err == nil {
		return n, nil
	}
	return nil, fmt.Errorf("bad literal %q", lit)
}

func compare(have any, op string, want any) bool {
	c, ok := cmpValues(have, want)
	if !ok {
		switch op {
		case "eq":
			return have == nil && want == nil
		case "ne":
			return !(have == nil && want == nil)
		}
		return false
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "ge":
		return c >= 0
	case "gt":
		return c > 0
	case "le":
		return c <= 0
	case "lt":
		return c < 0
	}
	return false
}

func cmpValues(have, want any) (int, bool) {
	switch w := want.(type) {
	case string:
		h, ok := have.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(strings.ToLower(h), strings.ToLower(w)), true
	case bool:
		h, ok := have.(bool)
		if !ok {
			return 0, false
		}
		if h == w {
			return 0, true
		}
		if h {
			return 1, true
		}
		return -1, true
	case time.Time:
		hs, ok := have.(string)
		if !ok {
			return 0, false
		}
		h := parseDateTimeOffset(hs)
		if h.IsZero() {
			return 0, false
		}
		return h.Compare(w), true
	case float64:
		var h float64
		switch v := have.(type) {
		case float64:
			h = v
		case int:
			h = float64(v)
		case int64:
			h = float64(v)
		default:
			if n, ok := have.(interface{ Float64() (float64, error) }); ok {
				h, _ = n.Float64()
			} else {
				return 0, false
			}
		}
		switch {
		case h < w:
			return -1, true
		case h > w:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// page applies filter, order, $skip and $top to rendered items and builds
// @odata.nextLink when more remain.
func page(items []*item, q *query, defaultTop int, render func(*item) map[string]any, base string, v url.Values) map[string]any {
	var hits []*item
	for _, it := range items {
		if q.filter == nil || q.filter(it) {
			hits = append(hits, it)
		}
	}
	if q.orderBy != "" {
		sort.SliceStable(hits, func(i, j int) bool {
			c, ok := cmpValues(hits[i].lookup(q.orderBy), asOrderValue(hits[j].lookup(q.orderBy)))
			if !ok {
				return false
			}
			if q.desc {
				return c > 0
			}
			return c < 0
		})
	}
	top := defaultTop
	if q.hasTop {
		top = q.top
	}
	start := min(q.skip, len(hits))
	end := min(start+top, len(hits))
	out := make([]any, 0, end-start)
	for _, it := range hits[start:end] {
		out = append(out, selectProps(render(it), q.selectProps))
	}
	resp := map[string]any{"value": out}
	if end < len(hits) {
		next := url.Values{}
		for k, vs := range v {
			next[k] = vs
		}
		next.Set("$skip", strconv.Itoa(end))
		if !q.hasTop {
			next.Set("$top", strconv.Itoa(top))
		}
		resp["@odata.nextLink"] = base + "?" + next.Encode()
	}
	return resp
}

func asOrderValue(v any) any {
	if s, ok := v.(string); ok {
		if t := parseDateTimeOffset(s); !t.IsZero() && strings.Contains(s, "T") {
			return t
		}
	}
	return v
}

// selectProps keeps id, @odata.etag and the selected properties.
func selectProps(m map[string]any, sel []string) map[string]any {
	if len(sel) == 0 {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		if k == "id" || strings.HasPrefix(k, "@odata.") || k == "singleValueExtendedProperties" || k == "linkedResources" {
			out[k] = v
		}
	}
	for _, p := range sel {
		if v, ok := m[p]; ok {
			out[p] = v
		}
	}
	return out
}

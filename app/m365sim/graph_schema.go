package m365sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ptype is the EDM type of a property, as far as validation needs it.
type ptype int

const (
	tString ptype = iota
	tBool
	tInt
	tDateTimeOffset
	tEnum
	tObject
	tStringColl
	tObjectColl
	tOpen // accepted as given (recurrence, flags …)
)

type prop struct {
	t    ptype
	obj  string   // schema of tObject / tObjectColl
	enum []string // values of tEnum
	ro   bool     // read-only: ignored on input
}

// entityType names the type in error messages as Outlook does.
var entityType = map[string]string{
	"event": "Microsoft.OutlookServices.Event", "contact": "Microsoft.OutlookServices.Contact",
	"message": "Microsoft.OutlookServices.Message", "mailFolder": "Microsoft.OutlookServices.MailFolder",
	"todoTaskList": "microsoft.graph.todoTaskList", "outlookCategory": "Microsoft.OutlookServices.OutlookCategory", "todoTask": "microsoft.graph.todoTask",
	"linkedResource": "microsoft.graph.linkedResource", "itemBody": "Microsoft.OutlookServices.ItemBody",
	"dateTimeTimeZone": "Microsoft.OutlookServices.DateTimeTimeZone", "location": "Microsoft.OutlookServices.Location",
	"physicalAddress": "Microsoft.OutlookServices.PhysicalAddress", "emailAddress": "Microsoft.OutlookServices.EmailAddress",
	"recipient": "Microsoft.OutlookServices.Recipient", "attendee": "Microsoft.OutlookServices.Attendee",
	"singleValueLegacyExtendedProperty": "Microsoft.OutlookServices.SingleValueLegacyExtendedProperty",
	"internetMessageHeader":             "Microsoft.OutlookServices.InternetMessageHeader", "attachment": "Microsoft.OutlookServices.FileAttachment",
	"sendMail": "Microsoft.OutlookServices.SendMailRequest", "move": "Microsoft.OutlookServices.MoveRequest",
}

var (
	ro         = prop{t: tString, ro: true}
	str        = prop{t: tString}
	boolean    = prop{t: tBool}
	strColl    = prop{t: tStringColl}
	importance = prop{t: tEnum, enum: []string{"low", "normal", "high"}}
)

func obj(name string) prop  { return prop{t: tObject, obj: name} }
func objs(name string) prop { return prop{t: tObjectColl, obj: name} }

var schemas = map[string]map[string]prop{
	"outlookCategory": {"displayName": str, "color": str},
	"event": {
		"subject": str, "body": obj("itemBody"), "start": obj("dateTimeTimeZone"), "end": obj("dateTimeTimeZone"),
		"isAllDay": boolean, "location": obj("location"), "locations": objs("location"), "categories": strColl,
		"importance": importance, "sensitivity": {t: tEnum, enum: []string{"normal", "personal", "private", "confidential"}},
		"showAs":       {t: tEnum, enum: []string{"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}},
		"isReminderOn": boolean, "reminderMinutesBeforeStart": {t: tInt}, "responseRequested": boolean,
		"attendees": objs("attendee"), "organizer": obj("recipient"), "recurrence": {t: tOpen}, "transactionId": str,
		"isOnlineMeeting": boolean, "onlineMeetingProvider": {t: tEnum, enum: []string{"unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness"}},
		"allowNewTimeProposals": boolean, "hideAttendees": boolean, "originalStartTimeZone": str, "originalEndTimeZone": str,
		"singleValueExtendedProperties": objs("singleValueLegacyExtendedProperty"), "multiValueExtendedProperties": {t: tOpen},
		"id": ro, "createdDateTime": ro, "lastModifiedDateTime": ro, "changeKey": ro, "iCalUId": ro, "uid": ro, "webLink": ro,
		"type": ro, "seriesMasterId": ro, "isCancelled": ro, "isOrganizer": ro, "hasAttachments": ro, "bodyPreview": ro,
		"onlineMeeting": {t: tOpen, ro: true}, "onlineMeetingUrl": ro, "responseStatus": {t: tOpen, ro: true},
		"cancelledOccurrences": {t: tOpen, ro: true}, "originalStart": ro, "isDraft": ro,
	},
	"contact": {
		"givenName": str, "surname": str, "middleName": str, "nickName": str, "title": str, "displayName": str,
		"initials": str, "fileAs": str, "generation": str, "yomiGivenName": str, "yomiSurname": str, "yomiCompanyName": str,
		"jobTitle": str, "companyName": str, "department": str, "officeLocation": str, "profession": str,
		"businessHomePage": str, "assistantName": str, "manager": str, "spouseName": str, "personalNotes": str,
		"birthday": {t: tDateTimeOffset}, "emailAddresses": objs("emailAddress"), "imAddresses": strColl,
		"businessPhones": strColl, "homePhones": strColl, "mobilePhone": str, "homeAddress": obj("physicalAddress"),
		"businessAddress": obj("physicalAddress"), "otherAddress": obj("physicalAddress"), "categories": strColl,
		"children": strColl, "singleValueExtendedProperties": objs("singleValueLegacyExtendedProperty"),
		"multiValueExtendedProperties": {t: tOpen},
		"id":                           ro, "createdDateTime": ro, "lastModifiedDateTime": ro, "changeKey": ro, "parentFolderId": ro,
	},
	"todoTaskList": {"displayName": str, "id": ro, "isOwner": {t: tBool, ro: true}, "isShared": {t: tBool, ro: true}, "wellknownListName": ro},
	"todoTask": {
		"title": str, "body": obj("itemBody"), "importance": importance,
		"status":      {t: tEnum, enum: []string{"notStarted", "inProgress", "completed", "waitingOnOthers", "deferred"}},
		"dueDateTime": obj("dateTimeTimeZone"), "startDateTime": obj("dateTimeTimeZone"), "reminderDateTime": obj("dateTimeTimeZone"),
		"completedDateTime": obj("dateTimeTimeZone"), "isReminderOn": boolean, "categories": strColl, "recurrence": {t: tOpen},
		"linkedResources": objs("linkedResource"), "checklistItems": {t: tOpen},
		"id": ro, "createdDateTime": ro, "lastModifiedDateTime": ro, "bodyLastModifiedDateTime": ro, "hasAttachments": {t: tBool, ro: true},
	},
	"linkedResource": {"webUrl": str, "applicationName": str, "displayName": str, "externalId": str, "id": ro},
	"message": {
		"subject": str, "body": obj("itemBody"), "toRecipients": objs("recipient"), "ccRecipients": objs("recipient"),
		"bccRecipients": objs("recipient"), "replyTo": objs("recipient"), "from": obj("recipient"), "sender": obj("recipient"),
		"importance": importance, "isRead": boolean, "categories": strColl, "internetMessageHeaders": objs("internetMessageHeader"),
		"attachments": objs("attachment"), "isDeliveryReceiptRequested": boolean, "isReadReceiptRequested": boolean,
		"flag": {t: tOpen}, "inferenceClassification": {t: tEnum, enum: []string{"focused", "other"}},
		"singleValueExtendedProperties": objs("singleValueLegacyExtendedProperty"),
		"id":                            ro, "createdDateTime": ro, "lastModifiedDateTime": ro, "changeKey": ro, "receivedDateTime": ro, "sentDateTime": ro,
		"hasAttachments": {t: tBool, ro: true}, "internetMessageId": ro, "bodyPreview": ro, "parentFolderId": ro,
		"conversationId": ro, "conversationIndex": ro, "isDraft": {t: tBool, ro: true}, "webLink": ro, "uniqueBody": {t: tOpen, ro: true},
	},
	"mailFolder": {"displayName": str, "isHidden": boolean, "id": ro, "parentFolderId": ro,
		"childFolderCount": {t: tInt, ro: true}, "unreadItemCount": {t: tInt, ro: true}, "totalItemCount": {t: tInt, ro: true}},
	"itemBody":         {"contentType": {t: tEnum, enum: []string{"text", "html"}}, "content": str},
	"dateTimeTimeZone": {"dateTime": str, "timeZone": str},
	"location": {"displayName": str, "locationType": {t: tEnum, enum: []string{"default", "conferenceRoom", "homeAddress", "businessAddress", "geoCoordinates", "streetAddress", "hotel", "restaurant", "localBusiness", "postalAddress"}},
		"uniqueId": str, "uniqueIdType": {t: tEnum, enum: []string{"unknown", "locationStore", "directory", "private", "bing"}},
		"address": obj("physicalAddress"), "coordinates": {t: tOpen}, "locationEmailAddress": str, "locationUri": str},
	"physicalAddress":                   {"street": str, "city": str, "state": str, "countryOrRegion": str, "postalCode": str},
	"emailAddress":                      {"name": str, "address": str},
	"recipient":                         {"emailAddress": obj("emailAddress")},
	"attendee":                          {"emailAddress": obj("emailAddress"), "type": {t: tEnum, enum: []string{"required", "optional", "resource"}}, "status": {t: tOpen}, "proposedNewTime": {t: tOpen}},
	"singleValueLegacyExtendedProperty": {"id": str, "value": str},
	"internetMessageHeader":             {"name": str, "value": str},
	"attachment":                        {"name": str, "contentType": str, "contentBytes": str, "isInline": boolean, "contentId": str, "size": {t: tInt, ro: true}, "id": ro, "lastModifiedDateTime": ro},
	"sendMail":                          {"message": obj("message"), "saveToSentItems": boolean},
	"move":                              {"destinationId": str},
}

// validateBody checks a JSON object against a schema the way Graph's OData
// reader does: unknown properties and wrong types are RequestBodyRead errors.
// Read-only properties are dropped.
func validateBody(schema string, v map[string]any) *graphError {
	props := schemas[schema]
	if actionSchemas[schema] {
		foldKeys(v, props)
	}
	for k, val := range v {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
			delete(v, k)
			continue
		}
		p, ok := props[k]
		if !ok {
			return bodyReadError("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, entityType[schema])
		}
		if p.ro {
			delete(v, k)
			continue
		}
		if val == nil {
			continue
		}
		if err := checkValue(k, p, val); err != nil {
			return err
		}
	}
	return nil
}

// actionSchemas are the bodies of OData actions. Graph matches their
// parameter names without regard to case: msgraph-sdk-go sends sendMail as
// {"Message": …, "SaveToSentItems": …}.
var actionSchemas = map[string]bool{"sendMail": true, "move": true}

// foldKeys renames keys that match a property only when case is ignored.
func foldKeys(v map[string]any, props map[string]prop) {
	for k, val := range v {
		if _, ok := props[k]; ok {
			continue
		}
		for name := range props {
			if strings.EqualFold(name, k) {
				delete(v, k)
				v[name] = val
				break
			}
		}
	}
}

func checkValue(name string, p prop, val any) *graphError {
	literal := func() string { b, _ := json.Marshal(val); return strings.Trim(string(b), `"`) }
	switch p.t {
	case tString:
		if _, ok := val.(string); !ok {
			return bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.String'.", literal())
		}
	case tBool:
		if _, ok := val.(bool); !ok {
			return bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'.", literal())
		}
	case tInt:
		n, ok := val.(json.Number)
		if !ok {
			return bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.Int32'.", literal())
		}
		if _, err := n.Int64(); err != nil {
			return bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.Int32'.", literal())
		}
	case tDateTimeOffset:
		s, ok := val.(string)
		if !ok || parseDateTimeOffset(s).IsZero() {
			return bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", literal())
		}
	case tEnum:
		s, ok := val.(string)
		if !ok {
			return bodyReadError("Cannot convert the literal '%s' to the expected type 'Edm.String'.", literal())
		}
		for _, e := range p.enum {
			if strings.EqualFold(e, s) {
				return nil
			}
		}
		return bodyReadError("The value '%s' is not valid for property '%s'.", s, name)
	case tStringColl:
		arr, ok := val.([]any)
		if !ok {
			return bodyReadError("A node of type '%s' was read from the JSON reader when trying to read the value of the property '%s'; however, a 'StartArray' node was expected.", jsonNodeKind(val), name)
		}
		for _, e := range arr {
			if _, ok := e.(string); !ok {
				return bodyReadError("Cannot convert the literal '%v' to the expected type 'Edm.String'.", e)
			}
		}
	case tObject:
		m, ok := val.(map[string]any)
		if !ok {
			return bodyReadError("A node of type '%s' was read from the JSON reader when trying to read the value of the property '%s'; however, a 'StartObject' node was expected.", jsonNodeKind(val), name)
		}
		return validateBody(p.obj, m)
	case tObjectColl:
		arr, ok := val.([]any)
		if !ok {
			return bodyReadError("A node of type '%s' was read from the JSON reader when trying to read the value of the property '%s'; however, a 'StartArray' node was expected.", jsonNodeKind(val), name)
		}
		for _, e := range arr {
			m, ok := e.(map[string]any)
			if !ok {
				return bodyReadError("A node of type '%s' was read from the JSON reader when trying to read a resource; however, a 'StartObject' node was expected.", jsonNodeKind(e))
			}
			if err := validateBody(p.obj, m); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonNodeKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "StartObject"
	case []any:
		return "StartArray"
	}
	return "PrimitiveValue"
}

func bodyReadError(format string, args ...any) *graphError {
	return &graphError{status: http.StatusBadRequest, code: "RequestBodyRead", message: fmt.Sprintf(format, args...)}
}

func parseDateTimeOffset(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

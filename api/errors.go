package api

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
)

// Status is Kubernetes' metav1.Status: the body of every error response, and
// the error value that store, apiserver, client and CLI pass along, so that a
// NotFound raised by the store reaches the CLI as `Error from server
// (NotFound): pods "x" not found` without being re-worded on the way.
type Status struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	// Status is "Success" or "Failure".
	Status  string         `json:"status,omitempty"`
	Message string         `json:"message,omitempty"`
	Reason  StatusReason   `json:"reason,omitempty"`
	Details *StatusDetails `json:"details,omitempty"`
	Code    int32          `json:"code,omitempty"`
}

// StatusDetails names the object a Status is about and, for Invalid, each bad
// field.
type StatusDetails struct {
	Name              string        `json:"name,omitempty"`
	Group             string        `json:"group,omitempty"`
	Kind              string        `json:"kind,omitempty"`
	UID               string        `json:"uid,omitempty"`
	Causes            []StatusCause `json:"causes,omitempty"`
	RetryAfterSeconds int32         `json:"retryAfterSeconds,omitempty"`
}

// StatusCause is one reason of a failure; for Invalid, one field error.
type StatusCause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// StatusReason is the machine-readable reason of a Status.
type StatusReason string

// Kubernetes' reasons, with the HTTP codes they travel with.
const (
	StatusReasonUnknown               StatusReason = ""
	StatusReasonUnauthorized          StatusReason = "Unauthorized"          // 401
	StatusReasonForbidden             StatusReason = "Forbidden"             // 403
	StatusReasonNotFound              StatusReason = "NotFound"              // 404
	StatusReasonAlreadyExists         StatusReason = "AlreadyExists"         // 409
	StatusReasonConflict              StatusReason = "Conflict"              // 409
	StatusReasonGone                  StatusReason = "Gone"                  // 410
	StatusReasonInvalid               StatusReason = "Invalid"               // 422
	StatusReasonTimeout               StatusReason = "Timeout"               // 504
	StatusReasonBadRequest            StatusReason = "BadRequest"            // 400
	StatusReasonMethodNotAllowed      StatusReason = "MethodNotAllowed"      // 405
	StatusReasonNotAcceptable         StatusReason = "NotAcceptable"         // 406
	StatusReasonRequestEntityTooLarge StatusReason = "RequestEntityTooLarge" // 413
	StatusReasonUnsupportedMediaType  StatusReason = "UnsupportedMediaType"  // 415
	StatusReasonInternalError         StatusReason = "InternalError"         // 500
	StatusReasonExpired               StatusReason = "Expired"               // 410
	StatusReasonServiceUnavailable    StatusReason = "ServiceUnavailable"    // 503
	StatusReasonTooManyRequests       StatusReason = "TooManyRequests"       // 429

	// StatusReasonInsufficientStorage is wasmlet's own: the node's disk is
	// too full to accept the write. Kubernetes has no reason for it
	// (kube-apiserver passes etcd's "mvcc: database space exceeded" on as
	// a 500 InternalError); 507 says what happened, and clients do not
	// retry it on their own.
	StatusReasonInsufficientStorage StatusReason = "InsufficientStorage" // 507
)

// Error makes *Status an error.
func (s *Status) Error() string { return s.Message }

// ReasonOf returns the reason of err when it is (or wraps) a *Status, and
// StatusReasonUnknown otherwise.
func ReasonOf(err error) StatusReason {
	var s *Status
	if errors.As(err, &s) {
		return s.Reason
	}
	return StatusReasonUnknown
}

func IsNotFound(err error) bool      { return ReasonOf(err) == StatusReasonNotFound }
func IsAlreadyExists(err error) bool { return ReasonOf(err) == StatusReasonAlreadyExists }
func IsConflict(err error) bool      { return ReasonOf(err) == StatusReasonConflict }
func IsInvalid(err error) bool       { return ReasonOf(err) == StatusReasonInvalid }
func IsInsufficientStorage(err error) bool {
	return ReasonOf(err) == StatusReasonInsufficientStorage
}
func IsExpired(err error) bool {
	r := ReasonOf(err)
	return r == StatusReasonExpired || r == StatusReasonGone
}

func newStatus(code int32, reason StatusReason, msg string, d *StatusDetails) *Status {
	return &Status{TypeMeta: TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: code, Reason: reason, Message: msg, Details: d}
}

// qualified is `pods` or `replicasets.apps`, as Kubernetes names a resource
// in messages.
func qualified(group, resource string) string {
	if group == "" {
		return resource
	}
	return resource + "." + group
}

// NewNotFound: `pods "x" not found`.
func NewNotFound(group, resource, name string) *Status {
	return newStatus(http.StatusNotFound, StatusReasonNotFound,
		fmt.Sprintf("%s %q not found", qualified(group, resource), name),
		&StatusDetails{Name: name, Group: group, Kind: resource})
}

// NewAlreadyExists: `pods "x" already exists`.
func NewAlreadyExists(group, resource, name string) *Status {
	return newStatus(http.StatusConflict, StatusReasonAlreadyExists,
		fmt.Sprintf("%s %q already exists", qualified(group, resource), name),
		&StatusDetails{Name: name, Group: group, Kind: resource})
}

// NewConflict: `Operation cannot be fulfilled on pods "x": <why>`.
func NewConflict(group, resource, name, why string) *Status {
	return newStatus(http.StatusConflict, StatusReasonConflict,
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", qualified(group, resource), name, why),
		&StatusDetails{Name: name, Group: group, Kind: resource})
}

// NewInvalid: `Pod "x" is invalid: [spec.a: Required value, ...]`, with one
// cause per field error.
func NewInvalid(group, kind, name string, errs ErrorList) *Status {
	causes := make([]StatusCause, 0, len(errs))
	for _, e := range errs {
		causes = append(causes, StatusCause{Type: string(e.Type), Message: e.ErrorBody(), Field: e.Field})
	}
	msg := fmt.Sprintf("%s %q is invalid: %s", qualifiedKind(group, kind), name, errs.ToAggregateString())
	return newStatus(http.StatusUnprocessableEntity, StatusReasonInvalid, msg,
		&StatusDetails{Name: name, Group: group, Kind: kind, Causes: causes})
}

func qualifiedKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

// NewExpired is the 410 a watch gets when its resourceVersion has left the
// history.
func NewExpired(msg string) *Status {
	return newStatus(http.StatusGone, StatusReasonExpired, msg, nil)
}

func NewBadRequest(msg string) *Status {
	return newStatus(http.StatusBadRequest, StatusReasonBadRequest, msg, nil)
}

func NewUnauthorized(msg string) *Status {
	return newStatus(http.StatusUnauthorized, StatusReasonUnauthorized, msg, nil)
}

func NewMethodNotSupported(group, resource, verb string) *Status {
	return newStatus(http.StatusMethodNotAllowed, StatusReasonMethodNotAllowed,
		fmt.Sprintf("%s is not supported on resources of kind %q", verb, qualified(group, resource)), nil)
}

func NewRequestEntityTooLarge(msg string) *Status {
	return newStatus(http.StatusRequestEntityTooLarge, StatusReasonRequestEntityTooLarge, msg, nil)
}

func NewUnsupportedMediaType(contentType string) *Status {
	return newStatus(http.StatusUnsupportedMediaType, StatusReasonUnsupportedMediaType,
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json (got %q)", contentType), nil)
}

func NewInternalError(err error) *Status {
	return newStatus(http.StatusInternalServerError, StatusReasonInternalError,
		fmt.Sprintf("Internal error occurred: %v", err), nil)
}

func NewServiceUnavailable(msg string) *Status {
	return newStatus(http.StatusServiceUnavailable, StatusReasonServiceUnavailable, msg, nil)
}

// NewInsufficientStorage is the 507 of a write refused because the node's
// disk is nearly full; msg says how much is free and what to do.
func NewInsufficientStorage(msg string) *Status {
	return newStatus(http.StatusInsufficientStorage, StatusReasonInsufficientStorage, msg, nil)
}

// FieldErrorType is the kind of a validation error, with Kubernetes' words.
type FieldErrorType string

const (
	ErrorTypeNotFound     FieldErrorType = "FieldValueNotFound"
	ErrorTypeRequired     FieldErrorType = "FieldValueRequired"
	ErrorTypeDuplicate    FieldErrorType = "FieldValueDuplicate"
	ErrorTypeInvalid      FieldErrorType = "FieldValueInvalid"
	ErrorTypeNotSupported FieldErrorType = "FieldValueNotSupported"
	ErrorTypeForbidden    FieldErrorType = "FieldValueForbidden"
	ErrorTypeTooLong      FieldErrorType = "FieldValueTooLong"
	ErrorTypeTooMany      FieldErrorType = "FieldValueTooMany"
	ErrorTypeInternal     FieldErrorType = "InternalError"
)

var fieldErrorTypeText = map[FieldErrorType]string{
	ErrorTypeNotFound:     "Not found",
	ErrorTypeRequired:     "Required value",
	ErrorTypeDuplicate:    "Duplicate value",
	ErrorTypeInvalid:      "Invalid value",
	ErrorTypeNotSupported: "Unsupported value",
	ErrorTypeForbidden:    "Forbidden",
	ErrorTypeTooLong:      "Too long",
	ErrorTypeTooMany:      "Too many",
	ErrorTypeInternal:     "Internal error",
}

// FieldError is one bad field: `spec.replicas: Invalid value: -1: must be
// greater than or equal to 0`.
type FieldError struct {
	Type     FieldErrorType
	Field    string
	BadValue any
	Detail   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.ErrorBody() }

// ErrorBody is the message without the field path, as Kubernetes builds it:
// simple values print plainly, strings quoted, Stringers by String, and
// anything else in Go syntax, with "null" for nil.
func (e *FieldError) ErrorBody() string {
	s := fieldErrorTypeText[e.Type]
	switch {
	case e.Type == ErrorTypeRequired, e.Type == ErrorTypeForbidden, e.Type == ErrorTypeTooLong, e.Type == ErrorTypeInternal:
	case e.BadValue == omitValue:
	default:
		s += ": " + formatBadValue(e.BadValue)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// omitValue as a BadValue prints no value.
var omitValue = struct{ omit bool }{true}

func formatBadValue(v any) string {
	rv := reflect.ValueOf(v)
	if v == nil {
		return "null"
	}
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "null"
		}
		if _, ok := v.(fmt.Stringer); !ok {
			v = rv.Elem().Interface()
		}
	} else if p := reflect.New(rv.Type()); p.Type().Implements(reflect.TypeFor[fmt.Stringer]()) {
		p.Elem().Set(rv)
		v = p.Interface()
	}
	switch t := v.(type) {
	case int64, int32, float64, float32, bool:
		return fmt.Sprintf("%v", t)
	case string:
		return fmt.Sprintf("%q", t)
	case fmt.Stringer:
		return t.String()
	}
	// Kubernetes prints its own types as v1.X; ours are api.X.
	return goTypeName.ReplaceAllString(fmt.Sprintf("%#v", v), "v1.$1")
}

var goTypeName = regexp.MustCompile(`\bapi\.([A-Z])`)

// ErrorList is every field error of one object.
type ErrorList []*FieldError

// ToAggregateString joins the errors as Kubernetes does: one error alone, or
// several in brackets, each message once.
func (l ErrorList) ToAggregateString() string {
	seen := make(map[string]bool, len(l))
	parts := make([]string, 0, len(l))
	for _, e := range l {
		if m := e.Error(); !seen[m] {
			seen[m] = true
			parts = append(parts, m)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func Required(field, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeRequired, Field: field, Detail: detail}
}
func Invalid(field string, value any, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeInvalid, Field: field, BadValue: value, Detail: detail}
}
func NotSupported(field string, value any, valid []string) *FieldError {
	quoted := make([]string, len(valid))
	for i, v := range valid {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return &FieldError{Type: ErrorTypeNotSupported, Field: field, BadValue: value,
		Detail: "supported values: " + strings.Join(quoted, ", ")}
}
func Forbidden(field, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeForbidden, Field: field, Detail: detail}
}
func Duplicate(field string, value any) *FieldError {
	return &FieldError{Type: ErrorTypeDuplicate, Field: field, BadValue: value}
}
func TooLong(field string, value any, max int) *FieldError {
	return &FieldError{Type: ErrorTypeTooLong, Field: field, BadValue: value,
		Detail: fmt.Sprintf("must have at most %d bytes", max)}
}

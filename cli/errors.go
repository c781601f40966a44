package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmlet/wasmlet/api"
)

// formatError words err as kubectl does: a Status from the node is `Error
// from server (Reason): message`, an invalid object lists its bad fields,
// anything else is `error: message`.
func formatError(err error) string {
	var st *api.Status
	if !errors.As(err, &st) {
		msg := err.Error()
		if strings.HasPrefix(msg, "error: ") {
			return msg
		}
		return "error: " + msg
	}
	switch {
	case st.Reason == api.StatusReasonInvalid:
		return invalidMessage(st)
	case st.Reason == api.StatusReasonUnauthorized:
		return fmt.Sprintf("error: You must be logged in to the server (%s)", st.Message)
	case st.Reason != "":
		return fmt.Sprintf("Error from server (%s): %s", st.Reason, st.Message)
	default:
		return "Error from server: " + st.Message
	}
}

// invalidMessage is kubectl's `The Pod "x" is invalid: field: why`, with
// several causes as a bulleted list.
func invalidMessage(st *api.Status) string {
	d := st.Details
	if d == nil {
		return "The request is invalid"
	}
	s := "The request is invalid"
	if d.Kind != "" || d.Name != "" {
		s = fmt.Sprintf("The %s %q is invalid", d.Kind, d.Name)
	}
	switch len(d.Causes) {
	case 0:
		return s
	case 1:
		return s + ": " + causeText(d.Causes[0])
	}
	var b strings.Builder
	b.WriteString(s + ": ")
	for _, c := range d.Causes {
		b.WriteString("\n* " + causeText(c))
	}
	return b.String()
}

func causeText(c api.StatusCause) string {
	if c.Field == "" {
		return c.Message
	}
	return c.Field + ": " + c.Message
}

// printError writes err to the command's stderr in kubectl's words; verbs
// that go on after an error (get, delete of several objects) use it.
func (e *environment) printError(err error) {
	fmt.Fprintln(e.stderr, formatError(err))
}

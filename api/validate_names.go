package api

import (
	"fmt"
	"regexp"
	"strings"
)

// Name and label syntax, with the messages Kubernetes gives
// (k8s.io/apimachinery/pkg/util/validation).

const (
	dns1123LabelFmt      = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
	dns1123SubdomainFmt  = dns1123LabelFmt + "(\\." + dns1123LabelFmt + ")*"
	dns1123LabelMaxLen   = 63
	dns1123SubdomainMax  = 253
	qualifiedNameFmt     = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
	qualifiedNameMaxLen  = 63
	labelValueFmt        = "(" + qualifiedNameFmt + ")?"
	labelValueMaxLen     = 63
	httpHeaderNameFmt    = "[-A-Za-z0-9]+"
	totalAnnotationLimit = 256 * 1024
)

var (
	dns1123LabelRe     = regexp.MustCompile("^" + dns1123LabelFmt + "$")
	dns1123SubdomainRe = regexp.MustCompile("^" + dns1123SubdomainFmt + "$")
	qualifiedNameRe    = regexp.MustCompile("^" + qualifiedNameFmt + "$")
	labelValueRe       = regexp.MustCompile("^" + labelValueFmt + "$")
	httpHeaderNameRe   = regexp.MustCompile("^" + httpHeaderNameFmt + "$")
	portNameCharsetRe  = regexp.MustCompile("^[-a-z0-9]+$")
	portNameLetterRe   = regexp.MustCompile("[a-z]")
)

// regexError words a syntax error as Kubernetes does, examples included.
func regexError(msg, format string, examples ...string) string {
	if len(examples) == 0 {
		return msg + " (regex used for validation is '" + format + "')"
	}
	msg += " (e.g. "
	for i, e := range examples {
		if i > 0 {
			msg += " or "
		}
		msg += "'" + e + "', "
	}
	return msg + "regex used for validation is '" + format + "')"
}

func maxLenError(n int) string { return fmt.Sprintf("must be no more than %d characters", n) }

// IsDNS1123Label checks a DNS label (a namespace's name, a container's name);
// it returns Kubernetes' messages, none when s is valid.
func IsDNS1123Label(s string) []string {
	var errs []string
	if len(s) > dns1123LabelMaxLen {
		errs = append(errs, maxLenError(dns1123LabelMaxLen))
	}
	if !dns1123LabelRe.MatchString(s) {
		errs = append(errs, regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", dns1123LabelFmt, "my-name", "123-abc"))
	}
	return errs
}

// IsDNS1123Subdomain checks a DNS subdomain (most objects' names).
func IsDNS1123Subdomain(s string) []string {
	var errs []string
	if len(s) > dns1123SubdomainMax {
		errs = append(errs, maxLenError(dns1123SubdomainMax))
	}
	if !dns1123SubdomainRe.MatchString(s) {
		errs = append(errs, regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", dns1123SubdomainFmt, "example.com"))
	}
	return errs
}

// IsQualifiedName checks a label key: a name of at most 63 characters with an
// optional DNS subdomain prefix and '/'.
func IsQualifiedName(s string) []string {
	var errs []string
	parts := strings.Split(s, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		var prefix string
		prefix, name = parts[0], parts[1]
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else {
			for _, m := range IsDNS1123Subdomain(prefix) {
				errs = append(errs, "prefix part "+m)
			}
		}
	default:
		return append(errs, regexError("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", qualifiedNameFmt, "MyName", "my.name", "123-abc")+
			" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
	}
	if name == "" {
		errs = append(errs, "name part must be non-empty")
	} else if len(name) > qualifiedNameMaxLen {
		errs = append(errs, "name part "+maxLenError(qualifiedNameMaxLen))
	}
	if !qualifiedNameRe.MatchString(name) {
		errs = append(errs, "name part "+regexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", qualifiedNameFmt, "MyName", "my.name", "123-abc"))
	}
	return errs
}

// IsValidLabelValue checks a label value.
func IsValidLabelValue(s string) []string {
	var errs []string
	if len(s) > labelValueMaxLen {
		errs = append(errs, maxLenError(labelValueMaxLen))
	}
	if !labelValueRe.MatchString(s) {
		errs = append(errs, regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", labelValueFmt, "MyValue", "my_value", "12345"))
	}
	return errs
}

// IsValidPortName checks an IANA_SVC_NAME.
func IsValidPortName(s string) []string {
	var errs []string
	if len(s) > 15 {
		errs = append(errs, "must be no more than 15 characters")
	}
	if !portNameCharsetRe.MatchString(s) {
		errs = append(errs, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
	}
	if !portNameLetterRe.MatchString(s) {
		errs = append(errs, "must contain at least one letter (a-z)")
	}
	if strings.Contains(s, "--") {
		errs = append(errs, "must not contain consecutive hyphens")
	}
	if s != "" && (s[0] == '-' || s[len(s)-1] == '-') {
		errs = append(errs, "must not begin or end with a hyphen")
	}
	return errs
}

func isValidPortNum(n int32) []string {
	if n < 1 || n > 65535 {
		return []string{"must be between 1 and 65535, inclusive"}
	}
	return nil
}

// isEnvVarName is the relaxed rule of Kubernetes 1.32 (on by default).
func isEnvVarName(s string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' || s[i] == '=' {
			return []string{"a valid environment variable name must consist only of printable ASCII characters other than '='"}
		}
	}
	return nil
}

func isHTTPHeaderName(s string) []string {
	if !httpHeaderNameRe.MatchString(s) {
		return []string{regexError("a valid HTTP header must consist of alphanumeric characters or '-'", httpHeaderNameFmt, "X-Header-Name")}
	}
	return nil
}

// nameFunc checks a name, or with prefix a generateName (whose trailing
// dash is allowed).
type nameFunc func(name string, prefix bool) []string

func maskTrailingDash(name string, prefix bool) string {
	if prefix && len(name) > 1 && strings.HasSuffix(name, "-") {
		return name[:len(name)-2] + "a"
	}
	return name
}

func nameIsDNSSubdomain(name string, prefix bool) []string {
	return IsDNS1123Subdomain(maskTrailingDash(name, prefix))
}

func nameIsDNSLabel(name string, prefix bool) []string {
	return IsDNS1123Label(maskTrailingDash(name, prefix))
}

// ValidateLabels checks label keys and values; each error names fieldPath
// itself, as Kubernetes' do.
func ValidateLabels(labels map[string]string, fieldPath string) ErrorList {
	var errs ErrorList
	for _, k := range sortedKeys(labels) {
		for _, m := range IsQualifiedName(k) {
			errs = append(errs, Invalid(fieldPath, k, m))
		}
		for _, m := range IsValidLabelValue(labels[k]) {
			errs = append(errs, Invalid(fieldPath, labels[k], m))
		}
	}
	return errs
}

// ValidateAnnotations checks annotation keys and their total size.
func ValidateAnnotations(annotations map[string]string, fieldPath string) ErrorList {
	var errs ErrorList
	size := 0
	for _, k := range sortedKeys(annotations) {
		for _, m := range IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, Invalid(fieldPath, k, m))
		}
		size += len(k) + len(annotations[k])
	}
	if size > totalAnnotationLimit {
		errs = append(errs, TooLong(fieldPath, "", totalAnnotationLimit))
	}
	return errs
}

package api

// Validate checks a new object.
func Validate(obj Object) ErrorList { return nil }

// ValidateLabels checks label keys and values.
func ValidateLabels(labels map[string]string, fieldPath string) ErrorList { return nil }

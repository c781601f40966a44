package api

// Selector matches a set of labels. A nil Selector is never passed where
// "everything" is meant: use Everything().
type Selector interface {
	Matches(labels map[string]string) bool
	// Empty reports whether the selector matches everything.
	Empty() bool
	String() string
}

// FieldSelector matches an object's selectable fields (metadata.name,
// metadata.namespace, status.phase, spec.nodeName).
type FieldSelector interface {
	Matches(fields map[string]string) bool
	Empty() bool
	String() string
}

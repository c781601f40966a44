package api

// Default fills the fields of obj that Kubernetes defaults when they are
// unset.
func Default(obj Object) {}

package api

// *Status is an Object so that a watch can carry it as the object of its
// ERROR event, as Kubernetes' watch does. A Status has no object metadata:
// GetObjectMeta returns an empty one that belongs to no one.

func (s *Status) GetObjectMeta() *ObjectMeta { return &ObjectMeta{} }

func (s *Status) DeepCopyObject() Object {
	c := *s
	if s.RemainingItemCount != nil {
		n := *s.RemainingItemCount
		c.RemainingItemCount = &n
	}
	if s.Details != nil {
		d := *s.Details
		d.Causes = append([]StatusCause(nil), s.Details.Causes...)
		c.Details = &d
	}
	return &c
}

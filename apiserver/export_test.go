package apiserver

// ActiveWatches is how many watch streams the server is serving.
func (s *Server) ActiveWatches() int64 { return s.watches.Load() }

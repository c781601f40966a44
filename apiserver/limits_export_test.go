package apiserver

// OpenConnections is how many connections the server holds open.
func (s *Server) OpenConnections() int {
	if l := s.conns.Load(); l != nil {
		return l.openConnections()
	}
	return 0
}

// RequestsInFlight is how many requests of each class are being served.
func (s *Server) RequestsInFlight() (readOnly, mutating, longRunning int64) {
	return s.inFlight[0].n.Load(), s.inFlight[1].n.Load(), s.inFlight[2].n.Load()
}

package main

import "github.com/lmtriad/lmtriad/wire"

// The role of this server in its triad. A lone server is always the master;
// a triad member's role comes from the quorum.

func (s *server) triad() bool { return len(s.servers) == 3 }

// servesAtStart: a lone server serves at once, a triad member only once
// the quorum has made it master.
func (s *server) servesAtStart() bool { return !s.triad() }

func (s *server) masterRank() int {
	if !s.triad() {
		return s.self
	}
	return -1
}

func (s *server) peerUp(rank int) bool { return false }

func (s *server) roleName() string {
	if !s.triad() {
		return "master"
	}
	return "standby"
}

func (s *server) clusterState() string { return "" }

func (s *server) linkRecords() []wire.Message { return nil }

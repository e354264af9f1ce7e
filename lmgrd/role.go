package main

import (
	"strconv"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/quorum"
)

// The role of this server. A lone server is always the master; a triad
// member's role comes from its quorum.Node.

func (s *server) isTriad() bool { return s.tri != nil }

func (s *server) portOf(rank int) int {
	if p := s.servers[rank].Port; p != 0 {
		return p
	}
	return licfile.DefaultPort
}

func (s *server) portAtHost(rank int) string {
	return strconv.Itoa(s.portOf(rank)) + "@" + s.servers[rank].Host
}

// view is what INFO reports about the triad: who is up, who is master, the
// role and the cluster state as this server sees them.
type view struct {
	up      []bool
	master  int
	role    string
	cluster string
	links   [][2]int
	linkUp  []bool
}

func (s *server) view() view {
	v := view{up: make([]bool, len(s.servers)), master: s.self, role: "master"}
	v.up[s.self] = true
	if !s.isTriad() {
		return v
	}
	st := s.tri.currentStatus()
	v.master = -1
	if st.Serving || st.Role == quorum.RoleStandby {
		v.master = st.Master
	}
	for i := range s.servers {
		v.up[i] = i == s.self || st.Live[i]
	}
	switch {
	case st.Serving:
		v.role = "master"
	case st.Role == quorum.RoleStandby:
		v.role = "standby"
	default:
		v.role = "alone"
	}
	v.cluster = st.Cluster.String()
	for a := 0; a < quorum.Size; a++ {
		for b := a + 1; b < quorum.Size; b++ {
			v.links = append(v.links, [2]int{a, b})
			v.linkUp = append(v.linkUp, st.LinkUp(a, b))
		}
	}
	return v
}

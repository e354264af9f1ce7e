package main

import (
	"strconv"
	"time"

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
	up       []bool
	master   int
	role     string
	cluster  string
	links    [][2]int
	linkUp   []bool
	linkWhy  []string // why a down link is down, when this server knows
	enrolled string   // digest of the enrolled license files this server holds
	members  []memberView
}

// memberView is one member's license files and health as this server sees
// them (lmstat's "Enrolled license files" paragraph).
type memberView struct {
	digest string // "" when unknown
	notes  []string
}

// refusalFresh is how long a TLS refusal of a peer explains its link
// being down.
const refusalFresh = 30 * time.Second

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
			up := st.LinkUp(a, b)
			why := ""
			if !up && (a == s.self || b == s.self) {
				why = s.tri.whyDown(st, a+b-s.self)
			}
			v.links = append(v.links, [2]int{a, b})
			v.linkUp = append(v.linkUp, up)
			v.linkWhy = append(v.linkWhy, why)
		}
	}
	v.enrolled = st.PeerLicenseDigest[s.self]
	for r := range quorum.Size {
		m := memberView{}
		if r == s.self || st.Live[r] {
			m.digest = st.PeerLicenseDigest[r]
		}
		switch {
		case r == s.self && st.StorageErr != "":
			m.notes = append(m.notes, storageNote(st.StorageErr))
		case st.LinkReason[r] == quorum.LinkCatchingUp:
			m.notes = append(m.notes, "catching up")
		case r != s.self && !st.Live[r] && !st.SkewOver[r]: // (a skew has its own note below)
			m.notes = append(m.notes, s.tri.whyDown(st, r))
		}
		if d := st.Skew[r]; st.SkewOver[r] || d >= time.Minute || d <= -time.Minute {
			note := "clock " + skewText(d)
			if st.SkewOver[r] {
				note += ", over the limit of " + s.opts.MaxClockSkew.String()
			}
			m.notes = append(m.notes, note)
		}
		v.members = append(v.members, m)
	}
	return v
}

// whyDown says why this server has no usable link to peer r.
func (t *triad) whyDown(st quorum.Status, r int) string {
	why := st.LinkReason[r]
	if why == quorum.LinkUnreachable || why == quorum.LinkOK {
		if reason, at := t.tr.LastRefusal(r); reason != "" && time.Since(at) < refusalFresh {
			return "authentication refused: " + reason
		}
	}
	if why == quorum.LinkOK {
		return "unreachable"
	}
	return why.String()
}

// skewText is a peer's clock offset in words: "1h0m5s ahead".
func skewText(d time.Duration) string {
	if d < 0 {
		return (-d).Round(time.Second).String() + " behind"
	}
	return d.Round(time.Second).String() + " ahead"
}

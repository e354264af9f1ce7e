package pool

import "strings"

// nodeLock is a pool's parsed HOSTID: the pool is usable by a client that
// matches any one of ids, or by everybody when open.
type nodeLock struct {
	open bool // no HOSTID, or ANY / DEMO among the ids
	ids  []lockID
}

type lockID struct {
	kind  string // upper-case type before '=' (HOSTNAME, INTERNET, USER, DISPLAY, ID...); "" for a plain id
	value string // text after '=' (the whole id when kind is "")
	text  string // the whole id as written
}

func parseNodeLock(hostid string) nodeLock {
	fields := strings.Fields(strings.Trim(strings.TrimSpace(hostid), `"`))
	if len(fields) == 0 {
		return nodeLock{open: true}
	}
	var l nodeLock
	for _, f := range fields {
		if strings.EqualFold(f, "ANY") || strings.EqualFold(f, "DEMO") {
			return nodeLock{open: true}
		}
		id := lockID{value: f, text: f}
		if k, v, ok := strings.Cut(f, "="); ok {
			id.kind, id.value = strings.ToUpper(k), v
		}
		l.ids = append(l.ids, id)
	}
	return l
}

// who is what node-lock matching looks at: the client's identity.
type who struct {
	user, host, display string
	hostIDs             []string
}

func (l *nodeLock) matches(w who) bool {
	if l.open {
		return true
	}
	for i := range l.ids {
		if l.ids[i].matches(w) {
			return true
		}
	}
	return false
}

func (id *lockID) matches(w who) bool {
	switch id.kind {
	case "HOSTNAME":
		return w.host != "" && strings.EqualFold(id.value, w.host)
	case "USER":
		return w.user != "" && id.value == w.user
	case "DISPLAY":
		return w.display != "" && id.value == w.display
	case "INTERNET":
		for _, c := range w.hostIDs {
			if ipMatches(id.value, c) {
				return true
			}
		}
		return false
	}
	// Plain and other typed ids (ID=, FLEXID=, COMPOSITE=...): the client may
	// report either the whole typed text or the bare value.
	for _, c := range w.hostIDs {
		if strings.EqualFold(c, id.text) || strings.EqualFold(c, id.value) {
			return true
		}
	}
	return false
}

// ipMatches reports whether client id c, an IPv4 address written bare or as
// INTERNET=a.b.c.d, matches pattern, whose octets may be '*'.
func ipMatches(pattern, c string) bool {
	if len(c) > 9 && strings.EqualFold(c[:9], "INTERNET=") {
		c = c[9:]
	}
	pp := strings.Split(pattern, ".")
	cp := strings.Split(c, ".")
	if len(pp) != 4 || len(cp) != 4 {
		return false
	}
	for i := range 4 {
		if cp[i] == "" || !allDigits(cp[i]) {
			return false
		}
		if pp[i] != "*" && strings.TrimLeft(pp[i], "0") != strings.TrimLeft(cp[i], "0") {
			return false
		}
	}
	return true
}

package options

import (
	"net/netip"
	"strconv"
	"strings"
)

// memberSet is the members of a group, folded to lower case when matching
// ignores case.
type memberSet struct {
	fold    bool
	members map[string]bool
}

func (s memberSet) add(members []string, fold bool) memberSet {
	if s.members == nil {
		s = memberSet{fold: fold, members: make(map[string]bool, len(members))}
	}
	for _, m := range members {
		s.members[s.key(m)] = true
	}
	return s
}

func (s memberSet) key(name string) string {
	if s.fold {
		return strings.ToLower(name)
	}
	return name
}

func (s memberSet) has(name string) bool {
	return name != "" && s.members[s.key(name)]
}

// Matches reports whether the spec applies to f: same name and, for a
// "name:KEY=value" spec, f's attribute KEY equal to value (VERSION as a
// decimal number, HOSTID ignoring case).
func (s FeatureSpec) Matches(f FeatureRef) bool {
	if s.Name != f.Name {
		return false
	}
	if s.Key == "" {
		return true
	}
	v, ok := f.Attrs[s.Key]
	if !ok {
		return false
	}
	switch s.Key {
	case "VERSION":
		a, errA := strconv.ParseFloat(s.Value, 64)
		b, errB := strconv.ParseFloat(v, 64)
		if errA == nil && errB == nil {
			return a == b
		}
	case "HOSTID":
		return strings.EqualFold(s.Value, v)
	}
	return s.Value == v
}

// Matches reports whether the type spec e names requester r. See the
// package documentation for each type's rule.
func (o *Options) Matches(e Entity, r Requester) bool {
	switch e.Type {
	case TypeUser:
		if r.User == "" {
			return false
		}
		if o != nil && o.caseInsensitive {
			return strings.EqualFold(e.Name, r.User)
		}
		return e.Name == r.User
	case TypeHost:
		return r.Host != "" && strings.EqualFold(e.Name, r.Host)
	case TypeDisplay:
		return r.Display != "" && e.Name == r.Display
	case TypeProject:
		return r.Project != "" && e.Name == r.Project
	case TypeInternet:
		return matchIP(e.Name, r.IP)
	case TypeGroup:
		return o != nil && o.groups[e.Name].has(r.User)
	case TypeHostGroup:
		return o != nil && o.hostGroups[e.Name].has(r.Host)
	}
	return false
}

// pattern is an INTERNET pattern: four octets, -1 for '*'.
type pattern [4]int

func parsePattern(s string) (pattern, bool) {
	var p pattern
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return p, false
	}
	for i, part := range parts {
		if part == "*" {
			p[i] = -1
			continue
		}
		if len(part) == 0 || len(part) > 3 {
			return p, false
		}
		n, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return p, false
		}
		p[i] = int(n)
	}
	return p, true
}

// matchIP reports whether ip (IPv4 or IPv4-mapped IPv6 text) matches the
// INTERNET pattern pat.
func matchIP(pat, ip string) bool {
	p, ok := parsePattern(pat)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for i, o := range p {
		if o >= 0 && int(b[i]) != o {
			return false
		}
	}
	return true
}

package licfile

import "strings"

// SplitServerLines cuts a license file's text in two: the physical lines of
// its SERVER lines (continuations included) and everything else, each in
// its original order and bytes. A triad replicates the rest (enrolment):
// every member keeps its own SERVER lines, which name hosts and ports as
// that member sees them.
func SplitServerLines(data []byte) (servers, rest []byte) {
	s := string(data)
	inServer, open := false, false // open: inside a continued logical line
	for len(s) > 0 {
		var phys string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			phys, s = s[:i+1], s[i+1:]
		} else {
			phys, s = s, ""
		}
		body := trimSpace(strings.TrimSuffix(strings.TrimSuffix(phys, "\n"), "\r"))
		if !open {
			if body == "" || body[0] == '#' {
				rest = append(rest, phys...)
				continue
			}
			kw := body
			if i := strings.IndexAny(kw, " \t\r\v\f\\"); i >= 0 {
				kw = kw[:i]
			}
			inServer = strings.EqualFold(kw, "SERVER")
		}
		open = strings.HasSuffix(body, `\`)
		if inServer {
			servers = append(servers, phys...)
		} else {
			rest = append(rest, phys...)
		}
	}
	return servers, rest
}

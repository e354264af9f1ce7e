package client

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// serverGroup is one entry of the license search path as addresses to dial
// in order: one server, the three of a triad, or the ten default ports of
// @host.
type serverGroup struct {
	entry string
	addrs []string
}

// groups resolves the search path afresh, so that an edited license file
// is seen at the next connect.
func (c *Client) groups() ([]serverGroup, error) {
	spec := c.opts.LicensePath
	if spec == "" {
		spec = licfile.SearchPathFromEnv(c.opts.Vendor, c.opts.Getenv)
	}
	if spec == "" {
		return nil, wire.NewError(wire.CodeNoConfFile, 1).WithDetail("set LM_LICENSE_FILE or give a license path")
	}
	entries, errs := licfile.ParseSearchPath(spec, nil)
	var groups []serverGroup
	for _, e := range entries {
		switch e.Kind {
		case licfile.EntryPortAtHost, licfile.EntryTriad:
			groups = append(groups, serverGroup{entry: e.Text, addrs: hostPortAddrs(e.Servers)})
		case licfile.EntryFile:
			g, err := fileGroup(e.Path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			groups = append(groups, g)
		case licfile.EntryDir:
			paths, err := licfile.ExpandDir(e.Path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, p := range paths {
				g, err := fileGroup(p)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				groups = append(groups, g)
			}
		}
	}
	for _, err := range errs {
		c.opts.Logger.WithError(err).Warn("license search path entry skipped")
	}
	if len(groups) == 0 {
		detail := spec
		if len(errs) > 0 {
			detail = errors.Join(errs...).Error()
		}
		return nil, wire.NewError(wire.CodeNoServer, 1).WithDetail(detail)
	}
	return groups, nil
}

func hostPortAddrs(hps []licfile.HostPort) []string {
	var addrs []string
	for _, hp := range hps {
		if hp.Port != 0 {
			addrs = append(addrs, net.JoinHostPort(hp.Host, strconv.Itoa(hp.Port)))
			continue
		}
		for p := licfile.DefaultPort; p < licfile.DefaultPort+10; p++ {
			addrs = append(addrs, net.JoinHostPort(hp.Host, strconv.Itoa(p)))
		}
	}
	return addrs
}

// fileGroup reads a license file's SERVER lines.
func fileGroup(path string) (serverGroup, error) {
	f, err := licfile.ParseFile(path)
	if f == nil {
		return serverGroup{}, err
	}
	if len(f.Servers) == 0 {
		return serverGroup{}, fmt.Errorf("%s: %w", path, wire.NewError(wire.CodeNoServerInFile, 1))
	}
	return serverGroup{entry: path, addrs: hostPortAddrs(f.ServerAddrs())}, nil
}

// portAtHost turns host:port into FlexLM's port@host.
func portAtHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return port + "@" + host
}

// addrOf turns port@host into host:port.
func addrOf(portAtHost string) (string, bool) {
	for i := 0; i < len(portAtHost); i++ {
		if portAtHost[i] == '@' {
			return net.JoinHostPort(portAtHost[i+1:], portAtHost[:i]), true
		}
	}
	return "", false
}

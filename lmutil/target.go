package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

// target is the license server system an admin command talks to: the
// servers of the first entry of -c (or LM_LICENSE_FILE) that names any.
type target struct {
	spec    string // what -c said, for messages
	file    string // the license file, when -c named one
	servers []licfile.HostPort
}

func resolveTarget(spec string, getenv func(string) string) (target, error) {
	if spec == "" {
		spec = licfile.SearchPathFromEnv("", getenv)
	}
	if spec == "" {
		return target{}, wire.NewError(wire.CodeNoConfFile, 1).WithDetail("use -c port@host or set LM_LICENSE_FILE")
	}
	entries, errs := licfile.ParseSearchPath(spec, nil)
	for _, e := range entries {
		switch e.Kind {
		case licfile.EntryPortAtHost, licfile.EntryTriad:
			return target{spec: spec, servers: withDefaultPorts(e.Servers)}, nil
		case licfile.EntryFile, licfile.EntryDir:
			paths := []string{e.Path}
			if e.Kind == licfile.EntryDir {
				paths, _ = licfile.ExpandDir(e.Path)
			}
			for _, p := range paths {
				f, err := licfile.ParseFile(p)
				if f == nil || len(f.Servers) == 0 {
					if err != nil {
						errs = append(errs, err)
					}
					continue
				}
				return target{spec: spec, file: p, servers: withDefaultPorts(f.ServerAddrs())}, nil
			}
		}
	}
	if len(errs) > 0 {
		return target{}, fmt.Errorf("%s: %w", spec, errs[0])
	}
	return target{}, wire.NewError(wire.CodeNoServerInFile, 1).WithDetail(spec)
}

// resolveTargets is resolveTarget for every entry of a path list that
// names servers, in order (lmstat reports each, as FlexLM does).
func resolveTargets(spec string, getenv func(string) string) ([]target, error) {
	if spec == "" {
		spec = licfile.SearchPathFromEnv("", getenv)
	}
	if spec == "" {
		return nil, wire.NewError(wire.CodeNoConfFile, 1).WithDetail("use -c port@host or set LM_LICENSE_FILE")
	}
	entries, errs := licfile.ParseSearchPath(spec, nil)
	var out []target
	for _, e := range entries {
		if t, err := resolveTarget(e.Text, func(string) string { return "" }); err == nil {
			out = append(out, t)
		} else {
			errs = append(errs, err)
		}
	}
	if len(out) == 0 {
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %w", spec, errs[0])
		}
		return nil, wire.NewError(wire.CodeNoServerInFile, 1).WithDetail(spec)
	}
	return out, nil
}

func withDefaultPorts(hps []licfile.HostPort) []licfile.HostPort {
	out := make([]licfile.HostPort, len(hps))
	for i, hp := range hps {
		if hp.Port == 0 {
			hp.Port = licfile.DefaultPort
		}
		out[i] = hp
	}
	return out
}

func addr(hp licfile.HostPort) string { return net.JoinHostPort(hp.Host, strconv.Itoa(hp.Port)) }

// adminTimeout bounds every admin exchange with one server.
const adminTimeout = 5 * time.Second

// adminCall greets the server at hp as an admin (of vendor, when not empty)
// and sends req.
func adminCall(ctx context.Context, hp licfile.HostPort, vendor string, req wire.Message) (wire.Message, []wire.Message, error) {
	return adminExchange(ctx, hp, "vendor", vendor, req)
}

// adminCallFeature is adminCall to the vendor daemon that serves feature.
func adminCallFeature(ctx context.Context, hp licfile.HostPort, feature string, req wire.Message) (wire.Message, []wire.Message, error) {
	return adminExchange(ctx, hp, "feature", feature, req)
}

// adminHello greets a server as an administrator, with the user and host
// the server logs admin requests and refusals under.
func adminHello() wire.Message {
	hello := wire.Hello("role", "admin")
	if u, err := user.Current(); err == nil {
		hello.Set("user", u.Username)
	}
	if h, err := os.Hostname(); err == nil {
		hello.Set("host", h)
	}
	return hello
}

func adminExchange(ctx context.Context, hp licfile.HostPort, key, value string, req wire.Message) (wire.Message, []wire.Message, error) {
	resp, records, err := adminExchangeOnce(ctx, hp, key, value, req)
	if needsPassword(err) && loginFrom(ctx).ask(hp) {
		return adminExchangeOnce(ctx, hp, key, value, req)
	}
	return resp, records, err
}

func adminExchangeOnce(ctx context.Context, hp licfile.HostPort, key, value string, req wire.Message) (wire.Message, []wire.Message, error) {
	hello := adminHello()
	if value != "" {
		hello.Set(key, value)
	}
	c, _, err := adminDial(ctx, hp, hello)
	if err != nil {
		return wire.Message{}, nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return c.Call(ctx, req)
}

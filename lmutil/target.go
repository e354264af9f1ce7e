package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
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

// licenseFiles reads the license files a -c (or LM_LICENSE_FILE) names:
// files and directories from disk, and, for a port@host or triad entry,
// the lines that server serves (its LICENSE answer, as FlexLM clients get
// the license file from the server). Every file that could be read is
// returned, with the problems of the others.
func licenseFiles(ctx context.Context, spec string, getenv func(string) string) ([]*licfile.File, error) {
	if spec == "" {
		spec = licfile.SearchPathFromEnv("", getenv)
	}
	if spec == "" {
		return nil, wire.NewError(wire.CodeNoConfFile, 1).WithDetail("use -c port@host or set LM_LICENSE_FILE")
	}
	entries, perrs := licfile.ParseSearchPath(spec, nil)
	var files []*licfile.File
	var errs licfile.ErrorList
	for _, err := range perrs {
		errs = append(errs, &licfile.Error{Pos: licfile.Pos{File: spec}, Msg: err.Error()})
	}
	for _, e := range entries {
		switch e.Kind {
		case licfile.EntryPortAtHost, licfile.EntryTriad:
			fs, err := serverLicenseFiles(ctx, withDefaultPorts(e.Servers))
			if err != nil {
				errs = append(errs, &licfile.Error{Pos: licfile.Pos{File: e.Text}, Msg: err.Error()})
			}
			files = append(files, fs...)
		default:
			fs, err := licfile.Load(e.Text)
			var list licfile.ErrorList
			if errors.As(err, &list) {
				errs = append(errs, list...)
			} else if err != nil {
				errs = append(errs, &licfile.Error{Pos: licfile.Pos{File: e.Text}, Msg: err.Error()})
			}
			files = append(files, fs...)
		}
	}
	if len(errs) > 0 {
		return files, errs
	}
	return files, nil
}

// serverLicenseFiles asks the first server of servers that answers for
// the license files it serves, named PORT@HOST:FILE.
func serverLicenseFiles(ctx context.Context, servers []licfile.HostPort) ([]*licfile.File, error) {
	var lastErr error
	for _, hp := range servers {
		_, recs, err := adminCall(ctx, hp, "", wire.New("LICENSE"))
		if err != nil {
			lastErr = err
			continue
		}
		var files []*licfile.File
		var name string
		var text strings.Builder
		flush := func() {
			if name == "" {
				return
			}
			f, _ := licfile.Parse(fmt.Sprintf("%d@%s:%s", hp.Port, hp.Host, name), []byte(text.String()))
			if f != nil {
				files = append(files, f)
			}
			name = ""
			text.Reset()
		}
		for _, r := range recs {
			switch r.Verb {
			case "FILE":
				flush()
				name = r.Get("name")
			case "LINE":
				text.WriteString(r.Get("text"))
				text.WriteByte('\n')
			}
		}
		flush()
		return files, nil
	}
	return nil, lastErr
}

// adminTimeout bounds every admin exchange with one server.
const adminTimeout = 5 * time.Second

// adminCall greets the server at hp as an admin (of vendor, when not empty)
// and sends req.
func adminCall(ctx context.Context, hp licfile.HostPort, vendor string, req wire.Message) (wire.Message, []wire.Message, error) {
	return adminExchange(ctx, hp, "vendor", vendor, req)
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

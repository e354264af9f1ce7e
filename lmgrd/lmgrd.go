package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/adminauth"
	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/wire"
)

// server is one running lmgrd.
type server struct {
	opts Options
	log  *logrus.Logger

	mu       sync.Mutex // guards files, features and vendors
	files    []*licfile.File
	features map[string]string // feature name → vendor, for greetings that name only a feature
	vendors  map[string]*vendorProc

	servers []licfile.Server // the SERVER lines, in file order
	self    int              // index of this process's SERVER line
	host    string
	port    int
	ln      net.Listener
	tri     *triad // nil for a lone server

	rejections flexlog.Throttle // the warnings of connections refused at their greeting

	passwords passwordStore       // the administrator passwords' credentials
	guesses   *adminauth.Throttle // failed password attempts, per source address
	guessLog  flexlog.Throttle    // the warnings of attempts refused while held off

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Run starts lmgrd and serves until ctx is done or lmdown stops it.
func Run(ctx context.Context, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	log, closeLog, err := openLog(opts)
	if err != nil {
		return err
	}
	defer closeLog()

	s := &server{opts: opts, log: log, vendors: map[string]*vendorProc{}, guesses: adminauth.NewThrottle()}
	s.ctx, s.cancel = context.WithCancel(ctx)
	defer s.cancel()

	hostname, _ := os.Hostname()
	now := time.Now()
	log.Infof("FlexNet Licensing (%s build %s %s) started on %s (%s) (%d/%d/%d)",
		wire.Version, wire.Build, wire.Platform, hostname, runtime.GOOS, now.Month(), now.Day(), now.Year())
	log.Infof("License file(s): %s", opts.LicensePath)
	for _, v := range opts.Unsigned {
		log.Warnf("License signatures of vendor %s are NOT checked (lmgrd -unsigned %s)", v, v)
	}

	files, err := licfile.Load(opts.LicensePath)
	if err != nil {
		logLoadError(log, err)
		return fmt.Errorf("license file(s) %s: %w", opts.LicensePath, err)
	}
	if err := s.configure(files); err != nil {
		log.Error(err.Error())
		return err
	}
	if err := s.checkHostID(); err != nil {
		log.Error(err.Error())
		return err
	}
	if err := s.listen(); err != nil {
		log.Error(err.Error())
		return err
	}
	log.Infof("lmgrd tcp-port %d", s.port)
	if len(s.servers) == 3 {
		key, err := loadClusterKey(opts)
		if err != nil {
			log.Error(err.Error())
			return err
		}
		log.Infof("Triad cluster key %s", key.ID())
		clock := opts.Clock
		if clock == nil {
			clock = bootClock
		}
		if s.tri, err = newTriad(s, files, key, clock); err != nil {
			log.Error(err.Error())
			return err
		}
		log.Infof("Started with redundant configuration - %s, %s, %s; this server is %s",
			s.portAtHost(0), s.portAtHost(1), s.portAtHost(2), s.portAtHost(s.self))
		s.wg.Add(2)
		go func() { defer s.wg.Done(); s.tri.run(s.ctx) }()
		go func() { defer s.wg.Done(); s.tri.enroller.run(s.ctx) }()
	} else {
		s.loadLonePasswords()
	}

	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.acceptLoop() }()
	if err := s.startWatcher(); err != nil {
		log.WithError(err).Warn("Cannot watch license files; use lmreread after changes")
	}
	log.Info("Starting vendor daemons ...")
	s.startVendors()

	<-s.ctx.Done()
	log.Info("Shutting down vendor daemons ...")
	s.ln.Close()
	s.stopVendors()
	s.wg.Wait()
	log.Info("EXITING DUE TO SIGNAL 15")
	return nil
}

func openLog(opts Options) (*logrus.Logger, func(), error) {
	if opts.Logger != nil {
		return opts.Logger, func() {}, nil
	}
	if opts.LogFile == "" {
		return flexlog.New(os.Stdout, "lmgrd"), func() {}, nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	path := opts.LogFile
	if strings.HasPrefix(path, "+") {
		path = path[1:]
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("debug log: %w", err)
	}
	// O_APPEND from here on, so that vendor daemons writing to the same
	// file never overwrite lmgrd's lines.
	if flags&os.O_TRUNC != 0 {
		f.Close()
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			return nil, nil, fmt.Errorf("debug log: %w", err)
		}
	}
	return flexlog.New(f, "lmgrd"), func() { f.Close() }, nil
}

// logLoadError writes one log line per problem so each names its file:line.
func logLoadError(log logrus.FieldLogger, err error) {
	var list licfile.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			log.Error(e.Error())
		}
		return
	}
	var problems options.ProblemList
	if errors.As(err, &problems) {
		for _, p := range problems {
			log.Error(p.Error())
		}
		return
	}
	log.Error(err.Error())
}

// configure takes the SERVER lines of the first file that has any, finds
// this process's own line, and indexes the vendors' features.
func (s *server) configure(files []*licfile.File) error {
	for _, f := range files {
		if len(f.Servers) > 0 {
			s.servers = f.Servers
			break
		}
	}
	if len(s.servers) == 0 {
		return errors.New("No SERVER lines in license file. (-13)")
	}
	self, err := pickSelf(s.servers, s.opts.Self)
	if err != nil {
		return err
	}
	s.self = self
	s.host = s.servers[self].Host
	s.port = s.servers[self].Port
	if s.port == 0 {
		s.port = licfile.DefaultPort
	}
	s.setFiles(files)
	return nil
}

func (s *server) setFiles(files []*licfile.File) {
	features := map[string]string{}
	for _, f := range files {
		for _, ft := range f.Features {
			if _, ok := features[ft.Name]; !ok {
				features[ft.Name] = ft.Vendor
			}
		}
	}
	// A PACKAGE's components are served by its vendor too (and its name
	// routes there already, through its enabling FEATURE line, for -125).
	for _, f := range files {
		for _, pk := range f.Packages {
			for _, c := range pk.Components {
				if _, ok := features[c.Name]; !ok {
					features[c.Name] = pk.Vendor
				}
			}
		}
	}
	s.mu.Lock()
	s.files = files
	s.features = features
	s.mu.Unlock()
}

// pickSelf finds which SERVER line this process is: the one -self names,
// the only one, or the one whose host is this machine.
func pickSelf(servers []licfile.Server, self string) (int, error) {
	if self != "" {
		for i, sv := range servers {
			if strings.EqualFold(sv.Host, self) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("-self %s: no SERVER line names that host", self)
	}
	if len(servers) == 1 {
		return 0, nil
	}
	hostname, _ := os.Hostname()
	for i, sv := range servers {
		if strings.EqualFold(sv.Host, hostname) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("none of the SERVER lines names this host (%s); start lmgrd with -self HOST", hostname)
}

func (s *server) checkHostID() error {
	sv := s.servers[s.self]
	info, err := hostid.Local()
	if err != nil {
		return fmt.Errorf("cannot read this host's hostid: %w", err)
	}
	if !info.Matches(sv.HostID) {
		return fmt.Errorf("%v: SERVER %s hostid %s does not match this machine (lmhostid: %s). Invalid host. (-9)",
			sv.Pos, sv.Host, sv.HostID, info.Default())
	}
	return nil
}

func (s *server) listen() error {
	addr := net.JoinHostPort(bindHost(s.host, len(s.servers) > 1), strconv.Itoa(s.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another lmgrd using port %d?)", addr, err, s.port)
	}
	s.ln = ln
	return nil
}

// bindHost is where to listen. Triad members bind their own SERVER host so
// that three of them can share a port on 127.0.0.1-3; a lone server listens
// on every address, as FlexLM does.
func bindHost(host string, triad bool) string {
	if triad && net.ParseIP(host) != nil {
		return host
	}
	return ""
}

// loadClusterKey reads -cluster-key; a triad member refuses to start
// without one.
func loadClusterKey(opts Options) (*clusterkey.Key, error) {
	if opts.ClusterKey != nil {
		return opts.ClusterKey, nil
	}
	if opts.ClusterKeyFile == "" {
		return nil, errNoClusterKey
	}
	key, err := clusterkey.Load(opts.ClusterKeyFile)
	if err != nil {
		return nil, fmt.Errorf("-cluster-key: %w", err)
	}
	return key, nil
}

// logWriter is where vendor daemons write their debug-log lines.
func (s *server) logWriter() io.Writer { return s.log.Out }

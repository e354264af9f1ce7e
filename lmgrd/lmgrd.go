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
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/adminauth"
	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/stats"
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

	rejections flexlog.Throttle            // the warnings of connections refused at their greeting
	exitWhy    atomic.Value                // string: why lmgrd stops, when not a signal (lmdown)
	stats      atomic.Pointer[stats.Store] // usage statistics (nil: none)
	snapshots  snapshotCache               // vendor STATUS answers for /metrics, the API, the statistics

	passwords passwordStore       // the administrator passwords' credentials
	guesses   *adminauth.Throttle // failed password attempts, per source address
	guessLog  flexlog.Throttle    // the warnings of attempts refused while held off

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Run starts lmgrd and serves until ctx is done or lmdown stops it.
func Run(ctx context.Context, opts Options) (err error) {
	ready := opts.Ready
	defer func() {
		if ready != nil { // stopped before it was ready: say why
			if err == nil {
				err = errors.New("lmgrd stopped before it was ready")
			}
			reportReady(ready, err)
		}
	}()
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
		// Like FlexLM, serve what can be read: a bad line, or a broken file
		// among others, is left out and logged; lmgrd stops only when no
		// file can be read.
		var list licfile.ErrorList
		if !errors.As(err, &list) || len(files) == 0 {
			logLoadError(log, err)
			return fmt.Errorf("license file(s) %s: %w", opts.LicensePath, err)
		}
		logIgnoredLines(log, list)
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
	s.wg.Add(1)
	go func() { defer s.wg.Done(); flexlog.WriteTimestamps(s.ctx, s.log, nil) }()
	if s.opts.Hangups != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.reopenLogOnHangup() }()
	}
	if err := s.startWatcher(); err != nil {
		log.WithError(err).Warn("Cannot watch license files; use lmreread after changes")
	}
	log.Info("Starting vendor daemons ...")
	s.startVendors()
	if st := s.openStats(); st != nil {
		s.stats.Store(st)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.runStats(s.ctx, st) }()
	}
	s.startHTTP()
	notifyCtx, stopNotify := context.WithCancel(context.Background())
	notified := make(chan struct{})
	go s.runNotifications(notifyCtx, notified)
	defer func() { // the stop notification goes out before lmgrd exits
		stopNotify()
		<-notified
	}()
	go func() { <-s.ctx.Done(); stopNotify() }()
	if ready != nil {
		s.waitVendorsUp(vendorStartWait) // the shell's next command finds them serving
	}
	reportReady(ready, nil)
	ready = nil

	<-s.ctx.Done()
	log.Info("Shutting down vendor daemons ...")
	s.ln.Close()
	s.stopVendors()
	s.wg.Wait()
	if why, _ := s.exitWhy.Load().(string); why != "" {
		log.Info("EXITING: " + why)
	} else {
		log.Info("EXITING DUE TO SIGNAL 15") // SIGTERM (or SIGINT) from outside
	}
	return nil
}

func openLog(opts Options) (*logrus.Logger, func(), error) {
	if opts.Logger != nil {
		return opts.Logger, func() {}, nil
	}
	if opts.LogFile == "" {
		return flexlog.New(os.Stdout, "lmgrd"), func() {}, nil
	}
	path, truncate := opts.LogFile, true
	if strings.HasPrefix(path, "+") {
		path, truncate = path[1:], false
	}
	// O_APPEND always: vendor daemons' lines and a copytruncate rotation
	// never leave holes or overwrite lmgrd's lines; SIGHUP reopens it.
	f, err := flexlog.OpenFile(path, truncate)
	if err != nil {
		return nil, nil, fmt.Errorf("debug log: %w", err)
	}
	return flexlog.New(f, "lmgrd"), func() { f.Close() }, nil
}

// reopenLogOnHangup reopens the debug log on each SIGHUP (opts.Hangups):
// logrotate renames the file and signals, and lmgrd goes on in a new file
// of the same name. A hangup never stops lmgrd.
func (s *server) reopenLogOnHangup() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case _, ok := <-s.opts.Hangups:
			if !ok {
				return
			}
			f, isFile := s.log.Out.(*flexlog.File)
			if !isFile {
				s.log.Info("SIGHUP received: the debug log is not a file (-l); nothing to reopen")
				continue
			}
			if err := f.Reopen(); err != nil {
				s.log.Errorf("SIGHUP received: cannot reopen the debug log %s: %v; still writing to the old file", f.Path(), err)
				continue
			}
			s.log.Infof("SIGHUP received: debug log %s reopened", f.Path())
		}
	}
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

// vendorStartWait bounds how long a detached lmgrd waits for its vendor
// daemons before it tells the shell it is up.
const vendorStartWait = 10 * time.Second

// waitVendorsUp waits until every vendor daemon has its channel up (or
// the wait runs out, or lmgrd stops).
func (s *server) waitVendorsUp(wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		s.mu.Lock()
		all := true
		for _, v := range s.vendors {
			if up, _ := v.up(); !up {
				all = false
			}
		}
		s.mu.Unlock()
		if all {
			return
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logIgnoredLines logs the license file problems a tolerant load left out.
func logIgnoredLines(log logrus.FieldLogger, list licfile.ErrorList) {
	for _, e := range list {
		if e.Pos.Line == 0 {
			log.Error(e.Pos.File + ": " + e.Msg + " (file ignored)")
		} else {
			log.Error(e.Error() + " (line ignored)")
		}
	}
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
	addr := net.JoinHostPort(bindHost(s.host, len(s.servers) > 1 && !s.opts.BindAny), strconv.Itoa(s.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another lmgrd using port %d?)", addr, err, s.port)
	}
	s.ln = ln
	return nil
}

// bindHost is where to listen. Triad members bind the address of their
// own SERVER host (an IP address, or what its name resolves to on this
// machine), so that three of them can share a port on one machine, by
// address or by host names in /etc/hosts, and peers see them connect from
// that address; -bind-any keeps the wildcard. A lone server listens on
// every address, as FlexLM does.
func bindHost(host string, triad bool) string {
	if triad {
		if ip := hostid.OwnAddress(host); ip != nil {
			return ip.String()
		}
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
// logWriter is where a vendor daemon's output goes: lmgrd's log, line by
// line through a pipe, so that its lines follow the log when SIGHUP
// reopens it and never cut into lmgrd's own lines.
func (s *server) logWriter() io.Writer { return &flexlog.LineWriter{W: s.log.Out} }

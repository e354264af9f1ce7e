package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/hostid"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

// vendorProc supervises one vendor daemon child.
type vendorProc struct {
	line licfile.Vendor

	mu      sync.Mutex
	ctl     *vendorctl.Channel // nil while the daemon is down
	out     *outbox            // the triad's messages to it; nil while it is down
	pid     int
	downed  bool // lmdown -vendor stopped it: no restart until lmreread
	stopped chan struct{}

	// What the triad has told this daemon (guarded by mu; reset when the
	// daemon restarts, so a new daemon gets its table and role again).
	gen      uint64         // generation of the table handed over; 0: none
	lastRole vendorctl.Role // the last Role sent
}

func (v *vendorProc) up() (bool, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ctl != nil, v.pid
}

// channel is the daemon's control channel, or an error while it is down.
func (v *vendorProc) channel() (*vendorctl.Channel, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctl == nil {
		return nil, wire.NewError(wire.CodeVendorDown, 121)
	}
	return v.ctl, nil
}

// client hands a client's connection and its greeting to the daemon.
func (v *vendorProc) client(greeting string, conn syscallConn) error {
	ctl, err := v.channel()
	if err != nil {
		return err
	}
	return ctl.SendClient(greeting, conn)
}

// admin hands an administrator's connection that proved the password of
// level to the daemon.
func (v *vendorProc) admin(greeting string, level hostid.Access, conn syscallConn) error {
	ctl, err := v.channel()
	if err != nil {
		return err
	}
	return ctl.SendAdmin(greeting, level.RemoteAdmin(), conn)
}

func (v *vendorProc) reread() error {
	ctl, err := v.channel()
	if err != nil {
		return err
	}
	return ctl.SendReread()
}

func (v *vendorProc) shutdown() error {
	ctl, err := v.channel()
	if err != nil {
		return err
	}
	return ctl.SendShutdown()
}

type syscallConn interface {
	syscall.Conn
	net.Conn
}

// startVendors starts a supervisor for each VENDOR line not yet running.
func (s *server) startVendors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		// Stopping: a reread now (the watch, an enrolment) must not start a
		// daemon that stopVendors has already passed by.
		return
	}
	for _, f := range s.files {
		for _, vl := range f.Vendors {
			if old, ok := s.vendors[vl.Name]; ok && !isClosed(old.stopped) {
				continue
			}
			v := &vendorProc{line: vl, stopped: make(chan struct{})}
			s.vendors[vl.Name] = v
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.supervise(v) }()
		}
	}
}

// supervise runs the daemon and restarts it with backoff when it dies.
func (s *server) supervise(v *vendorProc) {
	defer close(v.stopped)
	name := v.line.Name
	backoff := s.opts.RestartBackoff
	for {
		if s.ctx.Err() != nil {
			return
		}
		started := time.Now()
		cmd, err := s.startVendor(v)
		if err != nil {
			s.log.WithError(err).Errorf("Cannot start vendor daemon %s", name)
		} else {
			err = cmd.Wait()
			v.mu.Lock()
			v.ctl.Close()
			v.out.close()
			v.ctl, v.out, v.pid = nil, nil, 0
			v.mu.Unlock()
			if s.ctx.Err() != nil {
				return
			}
			status := describeExit(err)
			s.log.Infof("%s exited with status %s", name, status)
			v.mu.Lock()
			downed := v.downed
			v.mu.Unlock()
			if downed {
				s.log.Infof("%s stays down (lmdown -vendor); lmreread starts it again", name)
				return
			}
			if exitStatus(err) == vendorctl.ExitNoFeatures {
				s.log.Infof("%s daemon found no features.  Please correct", name)
				s.log.Info("license file and re-start daemons.")
				return
			}
		}
		if time.Since(started) > time.Minute {
			backoff = s.opts.RestartBackoff
		}
		s.log.Infof("Restarting %s in %v", name, backoff)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.opts.RestartBackoffMax)
	}
}

func (s *server) startVendor(v *vendorProc) (*exec.Cmd, error) {
	bin, err := s.vendordBinary(v.line)
	if err != nil {
		return nil, err
	}
	parent, child, err := handoff.Pair()
	if err != nil {
		return nil, err
	}
	defer child.Close()
	args := vendorctl.Args{
		Vendor:                v.line.Name,
		LicensePath:           s.opts.LicensePath,
		HandoffFD:             3, // ExtraFiles[0]
		DirectPort:            v.line.Port,
		ServerHost:            s.host,
		ServerPort:            s.port,
		HeartbeatTimeout:      s.opts.ClientHeartbeatTimeout,
		MaxConnections:        s.opts.MaxConnections,
		MaxConnectionsPerHost: s.opts.MaxConnectionsPerHost,
		LocalOnly:             s.opts.LocalOnly,
		NoRemove:              s.opts.NoRemove,
		NoDown:                s.opts.NoDown,
		AutoRecycle:           s.opts.AutoRecycle,
		RemoteAdmin:           s.opts.RemoteAdmin.RemoteAdmin(),
		VendorKeys:            s.opts.VendorKeys,
		Unsigned:              s.opts.unsigned(v.line.Name),
		Triad:                 s.isTriad(),
	}.Argv()
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{child}
	logw := s.logWriter()
	cmd.Stdout, cmd.Stderr = logw, logw // one writer: os/exec then writes from one goroutine
	// The child dies with lmgrd even on SIGKILL; it also exits when the
	// handoff channel closes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		parent.Close()
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	ctl, out := vendorctl.New(parent), newOutbox()
	v.mu.Lock()
	v.ctl, v.out, v.pid = ctl, out, cmd.Process.Pid
	v.gen, v.lastRole = 0, vendorctl.Role{} // the triad hands this daemon its table and role afresh
	v.mu.Unlock()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.hearVendor(v, ctl) }()
	go func() { defer s.wg.Done(); out.run(ctl) }()
	if s.isTriad() {
		s.tri.poke()
	}
	s.log.Infof("Started %s (internet tcp_port %d pid %d)", v.line.Name, s.port, cmd.Process.Pid)
	return cmd, nil
}

// vendordBinary finds the vendor daemon: the VENDOR line's path, else
// vendord beside lmgrd, else vendord on $PATH.
func (s *server) vendordBinary(vl licfile.Vendor) (string, error) {
	if s.opts.VendordPath != "" {
		return s.opts.VendordPath, nil
	}
	if vl.Path != "" {
		if _, err := os.Stat(vl.Path); err == nil {
			return vl.Path, nil
		}
		s.log.Warnf("%v: vendor daemon path %s not found, trying vendord beside lmgrd", vl.Pos, vl.Path)
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "vendord")
		if _, err := os.Stat(beside); err == nil {
			return beside, nil
		}
	}
	p, err := exec.LookPath("vendord")
	if err != nil {
		return "", fmt.Errorf("vendor daemon %s: no vendord beside lmgrd or on PATH: %w", vl.Name, err)
	}
	return p, nil
}

// stopVendors asks every daemon to shut down and kills those that do not.
func (s *server) stopVendors() {
	s.mu.Lock()
	vendors := make([]*vendorProc, 0, len(s.vendors))
	for _, v := range s.vendors {
		vendors = append(vendors, v)
	}
	s.mu.Unlock()
	for _, v := range vendors {
		_ = v.shutdown()
	}
	deadline := time.After(5 * time.Second)
	for _, v := range vendors {
		select {
		case <-v.stopped:
		case <-deadline:
			if _, pid := v.up(); pid != 0 {
				s.log.Warnf("%s did not stop, killing pid %d", v.line.Name, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			<-v.stopped
		}
	}
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("%d (killed by signal %d)", 128+int(ws.Signal()), int(ws.Signal()))
		}
		return strconv.Itoa(ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "0"
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// hearVendor reads what a vendor daemon sends lmgrd: its proposals to the
// triad's log. It returns when the daemon's channel closes.
func (s *server) hearVendor(v *vendorProc, ctl *vendorctl.Channel) {
	for {
		m, err := ctl.Recv()
		if errors.Is(err, vendorctl.ErrPeerClosed) || errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.log.WithError(err).Warnf("Bad message from vendor daemon %s", v.line.Name)
			continue
		}
		if m.Kind != vendorctl.KindPropose || s.tri == nil {
			s.log.Warnf("Unexpected %v message from vendor daemon %s", m.Kind, v.line.Name)
			continue
		}
		if !s.tri.propose(v, m.Propose) {
			return
		}
	}
}

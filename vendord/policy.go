package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/options"
	"github.com/lmtriad/lmtriad/wire"
)

// The vendor daemon's options file (flexlm.md §6): OPTIONS= on this
// vendor's VENDOR line, a path relative to that license file's directory
// unless absolute; without it, <vendor>.opt beside the license file, if
// there is one. It is read at start and on every reread. A line with an
// error is skipped and logged with its file:line, the rest applies
// (FlexLM's behaviour); a file that cannot be read leaves no policy (no
// INCLUDE, EXCLUDE, RESERVE or MAX applies) and is logged.

// optionsPath finds this vendor's options file among the license files;
// "" when there is none.
func (d *daemon) optionsPath(files []*licfile.File) string {
	var beside string
	for _, f := range files {
		for _, v := range f.Vendors {
			if v.Name != d.opts.Vendor {
				continue
			}
			if v.Options != "" {
				if filepath.IsAbs(v.Options) {
					return v.Options
				}
				return filepath.Join(filepath.Dir(f.Name), v.Options)
			}
			if beside == "" {
				p := filepath.Join(filepath.Dir(f.Name), d.opts.Vendor+".opt")
				if _, err := os.Stat(p); err == nil {
					beside = p
				}
			}
		}
	}
	return beside
}

// loadPolicy reads this vendor's options file; nil when there is none or
// it cannot be read.
// Its lines with errors are added to *skipped.
func (d *daemon) loadPolicy(files []*licfile.File, skipped *[]string) *options.Options {
	path := d.optionsPath(files)
	if path == "" {
		if d.siteOptionsPath != "" {
			d.log.Info("No options file any more: no INCLUDE, EXCLUDE, RESERVE or MAX applies")
		}
		d.siteOptionsPath = ""
		return nil
	}
	opts, err := options.ParseFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			d.log.Warnf("Cannot open options file %q: no such file; no options apply", path)
		} else {
			d.log.Warnf("Cannot read options file %q: %v; no options apply", path, err)
		}
		d.siteOptionsPath = ""
		return nil
	}
	d.siteOptionsPath = path
	d.log.Infof("Using options file: %q", path)
	d.followDebugLog(opts)
	for _, p := range opts.Problems {
		if p.Severity == options.Error {
			d.log.Errorf("%v (line ignored)", p)
			*skipped = append(*skipped, p.Error()+" (line ignored)")
		} else {
			d.log.Warnf("%v", p)
		}
	}
	return opts
}

// followDebugLog applies DEBUGLOG [+]path: this daemon's log lines go to
// that file instead of lmgrd's log (a relative path is taken from the
// options file's directory); without it, or when the file cannot be
// opened, they stay in lmgrd's log. The switch is said in both logs.
func (d *daemon) followDebugLog(site *options.Options) {
	d.debugMu.Lock()
	defer d.debugMu.Unlock()
	logger := d.logger()
	if logger == nil {
		return // a logger of another kind cannot be redirected
	}
	path, appendMode, ok := site.DebugLog()
	if !ok {
		if d.debugLog != nil && d.debugFromOptions { // DEBUGLOG removed: back to lmgrd's log
			logger.SetOutput(d.logOut)
			_ = d.debugLog.Close()
			d.debugLog, d.debugLogPath = nil, ""
			d.log.Info("Debug log back in lmgrd's log (no DEBUGLOG any more)")
		}
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.siteOptionsPath), path)
	}
	if path == d.debugLogPath {
		return
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if !appendMode {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		d.log.Errorf("Cannot open debug log %q: %v; logging here", path, err)
		return
	}
	d.redirectLog(logger, f, path, "DEBUGLOG")
	d.debugFromOptions = true
}

// logger is the logrus logger under d.log, or nil.
func (d *daemon) logger() *logrus.Logger {
	switch l := d.log.(type) {
	case *logrus.Logger:
		return l
	case *logrus.Entry:
		return l.Logger
	}
	return nil
}

// redirectLog sends this daemon's log lines to f from now on, saying so
// in the old log and the new one (d.debugMu held).
func (d *daemon) redirectLog(logger *logrus.Logger, f *os.File, path, why string) {
	d.log.Infof("Debug log of %s continues in %s (%s)", d.opts.Vendor, path, why)
	if d.debugLog == nil {
		d.logOut = logger.Out
	}
	logger.SetOutput(f)
	if d.debugLog != nil {
		_ = d.debugLog.Close()
	}
	d.debugLog, d.debugLogPath = f, path
	d.log.Infof("Debug log of %s (%s)", d.opts.Vendor, why)
}

// switchDebugLog answers SWITCH (lmswitch): this daemon's log lines go on
// in a new file (FlexLM refuses an existing one), until the next lmswitch
// or a DEBUGLOG change.
func (s *session) switchDebugLog(req wire.Message) wire.Message {
	if err := s.authorise("lmswitch", false); err != nil {
		return err.Message()
	}
	d := s.d
	path := req.Get("path")
	if !filepath.IsAbs(path) {
		return wire.NewError(wire.CodeBadComm, 32).WithDetail("lmswitch needs an absolute path on the server").Message()
	}
	d.debugMu.Lock()
	defer d.debugMu.Unlock()
	logger := d.logger()
	if logger == nil {
		return wire.NewError(wire.CodeCantWrite, 32).WithDetail("this daemon's log cannot be switched").Message()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%s exists already: switch to a new file", path)
		}
		return wire.NewError(wire.CodeCantWrite, 32).WithDetail(err.Error()).Message()
	}
	d.redirectLog(logger, f, path, "lmswitch")
	d.debugFromOptions = false
	return wire.OK("path", path)
}

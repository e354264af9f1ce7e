package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/lmtriad/lmtriad/licfile"
)

// startWatcher watches the license files and directories of -c and rereads
// shortly after any of them changes, as lmreread would.
func (s *server) startWatcher() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	// Watch directories, not files: editors and admins replace files by
	// rename, which a watch on the old inode would miss. The entries of -c
	// are those the loader (licfile.Load) reads, from ParseSearchPath; the
	// loader reports the bad ones.
	files := map[string]bool{} // files named directly in -c
	dirs := map[string]bool{}  // directories named in -c: every *.lic counts
	entries, _ := licfile.ParseSearchPath(s.opts.LicensePath, nil)
	for _, e := range entries {
		if e.Kind != licfile.EntryFile && e.Kind != licfile.EntryDir {
			continue // a license server's address: nothing to watch
		}
		abs, err := filepath.Abs(e.Path)
		if err != nil {
			continue
		}
		if e.Kind == licfile.EntryDir {
			dirs[abs] = true
			if err := w.Add(abs); err != nil {
				w.Close()
				return fmt.Errorf("watch %s: %w", abs, err)
			}
			continue
		}
		files[abs] = true
		if err := w.Add(filepath.Dir(abs)); err != nil {
			w.Close()
			return fmt.Errorf("watch %s: %w", filepath.Dir(abs), err)
		}
	}
	fileDirs := map[string]bool{} // directories of -c files: the options files beside them count
	for f := range files {
		fileDirs[filepath.Dir(f)] = true
	}
	relevant := func(name string) bool {
		abs, _ := filepath.Abs(name)
		dir := filepath.Dir(abs)
		return files[abs] || (dirs[dir] && strings.HasSuffix(abs, ".lic")) ||
			((dirs[dir] || fileDirs[dir]) && strings.HasSuffix(abs, ".opt"))
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer w.Close()
		var timer <-chan time.Time
		for {
			select {
			case <-s.ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if relevant(ev.Name) && timer == nil {
					timer = time.After(s.opts.RereadDelay)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.WithError(err).Warn("License file watch error")
			case <-timer:
				timer = nil
				if s.isTriad() {
					// A triad serves what is enrolled: the enroller proposes
					// the change, and every member rereads once it is applied.
					s.tri.enroller.poke(nil)
					continue
				}
				s.log.Info("License file(s) changed, rereading")
				_ = s.reread("", false)
			}
		}
	}()
	return nil
}

// reread loads the license files again and tells the vendor daemons (only
// vendor's, when not empty) to reread. A file with errors changes nothing:
// every problem is logged with its file:line and the licenses already
// served keep being served.
//
// tolerant is FlexLM's lmreread: a bad line is left out (logged with its
// file:line) and the rest served. The automatic reread of a changed file
// is not tolerant: a file with errors is most often one being edited or
// written, and serving it without its bad lines would take licenses away
// from their holders; it waits until the file reads cleanly.
func (s *server) reread(vendor string, tolerant bool) error {
	files, err := licfile.Load(s.opts.LicensePath)
	if err != nil {
		var list licfile.ErrorList
		if !tolerant || !errors.As(err, &list) || len(files) == 0 {
			logLoadError(s.log, err)
			s.log.Error("Reread refused: the license files above have errors; still serving the licenses read before")
			return err
		}
		logIgnoredLines(s.log, list)
	}
	s.setFiles(files)
	s.startVendors()
	s.mu.Lock()
	vendors := make([]*vendorProc, 0, len(s.vendors))
	for _, v := range s.vendors {
		vendors = append(vendors, v)
	}
	s.mu.Unlock()
	for _, v := range vendors {
		if vendor != "" && v.line.Name != vendor {
			continue
		}
		if err := v.reread(); err != nil {
			s.log.WithError(err).Warnf("Cannot tell %s to reread", v.line.Name)
		}
	}
	s.log.Info("Rereading license file(s): done")
	return nil
}

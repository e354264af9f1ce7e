package licfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ExpandDir returns the *.lic files of dir, in name order.
func ExpandDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".lic") && !e.IsDir() {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	return paths, nil // ReadDir returns entries sorted by name
}

// Load reads the license files lmgrd -c names: a file, a directory (its *.lic
// files in name order) or a search path of those. It parses every file and
// returns every file it could read, with each file's good lines, even when it
// also returns an error; the error is nil or an ErrorList with every problem:
// unreadable files, bad or port@host entries (lmgrd serves files, it does not
// ask other servers), and parse errors. A file named twice is read once.
func Load(spec string) ([]*File, error) {
	var (
		files []*File
		errs  ErrorList
		seen  = map[string]bool{}
	)
	entries, perrs := ParseSearchPath(spec, nil)
	for _, err := range perrs {
		se := err.(*SearchPathError)
		errs = append(errs, &Error{Pos: Pos{File: se.Text}, Msg: se.Msg})
	}
	if len(entries) == 0 && len(perrs) == 0 {
		errs = append(errs, &Error{Pos: Pos{File: "license path " + strconv.Quote(spec)}, Msg: "no license file given (-1: Cannot find license file.)"})
	}
	for _, e := range entries {
		var paths []string
		switch e.Kind {
		case EntryPortAtHost, EntryTriad:
			errs = append(errs, &Error{Pos: Pos{File: e.Text}, Msg: "a license server address, not a license file: lmgrd -c needs files or directories"})
			continue
		case EntryDir:
			ps, err := ExpandDir(e.Path)
			if err != nil {
				errs = append(errs, &Error{Pos: Pos{File: e.Path}, Msg: err.Error()})
				continue
			}
			if len(ps) == 0 {
				errs = append(errs, &Error{Pos: Pos{File: e.Path}, Msg: "directory holds no *.lic file"})
			}
			paths = ps
		default:
			paths = []string{e.Path}
		}
		for _, path := range paths {
			if seen[filepath.Clean(path)] {
				continue
			}
			seen[filepath.Clean(path)] = true
			f, err := ParseFile(path)
			var list ErrorList
			switch {
			case errors.As(err, &list):
				errs = append(errs, list...)
			case err != nil:
				errs = append(errs, &Error{Pos: Pos{File: path}, Msg: readError(err)})
			}
			if f != nil {
				files = append(files, f)
			}
		}
	}
	if len(errs) > 0 {
		return files, errs
	}
	return files, nil
}

// readError says why a file could not be read, without repeating its name.
func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, fs.ErrNotExist) {
			return "cannot read license file: no such file (-1: Cannot find license file.)"
		}
		return "cannot read license file: " + pe.Err.Error()
	}
	return err.Error()
}

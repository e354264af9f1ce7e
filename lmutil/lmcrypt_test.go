package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

const unsignedLic = `# demo licenses
SERVER h1 ANY 27000
VENDOR demo
VENDOR other

FEATURE solver demo 1.0 permanent 5 HOSTID=ANY \
	VENDOR_STRING="site A" SIGN=0 # comment on the line
# between lines
INCREMENT viewer demo 2.0 1-jan-2040 2 0123ABCD
FEATURE tool other 1.0 permanent 1 SIGN=0
PACKAGE suite demo 1.0 COMPONENTS="solver viewer" SIGN=0
`

// keygen makes a key pair for vendor in dir and returns the two paths.
func keygen(t *testing.T, dir, vendor string) (key, pub string) {
	t.Helper()
	if code, out, errOut := runLmutil(t, "lmutil", "lmkeygen", vendor, dir); code != 0 {
		t.Fatalf("lmkeygen %s: exit %d\n%s%s", vendor, code, out, errOut)
	}
	return filepath.Join(dir, vendor+".key"), filepath.Join(dir, vendor+".pub")
}

func TestLmcryptAndVerify(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	demoKey, demoPub := keygen(t, keys, "demo")
	otherDir := t.TempDir()
	_, otherPub := keygen(t, otherDir, "other")
	lic := writeLic(t, dir, "a.lic", unsignedLic)
	if err := os.Chmod(lic, 0o640); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runLmutil(t, "lmutil", "lmcrypt", "-key", demoKey, lic)
	if code != 0 || out != lic+": signed 3 line(s) of vendor demo\n" {
		t.Fatalf("lmcrypt: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	data, _ := os.ReadFile(lic)
	signed := string(data)
	if fi, _ := os.Stat(lic); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after signing, want 0640", fi.Mode())
	}
	for _, keep := range []string{"# demo licenses\nSERVER h1 ANY 27000\nVENDOR demo\nVENDOR other\n\n",
		"\n# between lines\n", "\nFEATURE tool other 1.0 permanent 1 SIGN=0\n"} {
		if !strings.Contains(signed, keep) {
			t.Errorf("signed file lost %q:\n%s", keep, signed)
		}
	}
	if strings.Count(signed, "SIGN=ed1:") != 3 || strings.Contains(signed, "0123ABCD") {
		t.Errorf("signed file:\n%s", signed)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}

	check := func(t *testing.T, keys, text string) (int, string) {
		t.Helper()
		p := writeLic(t, t.TempDir(), "c.lic", text)
		code, out, errOut := runLmutil(t, "lmutil", "lmcksum", "-vendor-keys", keys, "-c", p)
		return code, strings.ReplaceAll(out+errOut, p, "F")
	}
	t.Run("OK", func(t *testing.T) {
		code, out := check(t, keys, signed)
		want := fmt.Sprintf("F:6: FEATURE solver demo 1.0 permanent 5: OK\nF:%d: INCREMENT viewer demo 2.0 1-jan-2040 2: OK\n"+
			"F:%d: FEATURE tool other 1.0 permanent 1: BAD: no public key for the line's vendor other\nF:%d: PACKAGE suite demo 1.0: OK\n",
			lineOf(signed, "INCREMENT"), lineOf(signed, "FEATURE tool"), lineOf(signed, "PACKAGE"))
		if code != 1 || !strings.HasSuffix(out, want) {
			t.Errorf("exit %d\n%s\nwant ...\n%s", code, out, want)
		}
	})
	withoutOther := strings.Replace(signed, "FEATURE tool other 1.0 permanent 1 SIGN=0\n", "", 1)
	t.Run("only demo lines, public key file", func(t *testing.T) {
		if code, out := check(t, demoPub, withoutOther); code != 0 || strings.Contains(out, "BAD") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("count 5 to 500", func(t *testing.T) {
		code, out := check(t, keys, strings.Replace(withoutOther, "permanent 5 ", "permanent 500 ", 1))
		if want := "F:6: FEATURE solver demo 1.0 permanent 500: BAD: signature does not match the line\n"; code != 1 || !strings.Contains(out, want) {
			t.Errorf("exit %d\n%s\nwant %q", code, out, want)
		}
		if strings.Count(out, ": OK\n") != 2 {
			t.Errorf("the other lines should stay OK:\n%s", out)
		}
	})
	t.Run("SIGN=0", func(t *testing.T) {
		text := replaceLogical(withoutOther, "INCREMENT", "INCREMENT viewer demo 2.0 1-jan-2040 2 SIGN=\"0\"\n")
		code, out := check(t, keys, text)
		want := fmt.Sprintf("F:%d: INCREMENT viewer demo 2.0 1-jan-2040 2: BAD: no ed1: signature (SIGN=0)\n", lineOf(text, "INCREMENT"))
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("exit %d\n%s\nwant %q", code, out, want)
		}
	})
	t.Run("reordered and rewrapped", func(t *testing.T) {
		sig := regexp.MustCompile(`PACKAGE [^#]*SIGN=(ed1:[A-Za-z0-9_-]+)`).FindStringSubmatch(withoutOther)
		if sig == nil {
			t.Fatalf("no PACKAGE signature in\n%s", withoutOther)
		}
		text := replaceLogical(withoutOther, "PACKAGE",
			"package  suite\tdemo \"1.0\" \\\n   sign="+sig[1]+" \\  \n components=\"solver viewer\"\n")
		text = replaceLogical(text, "FEATURE solver", "FEATURE solver demo 1.0 permanent 5 VENDOR_STRING=\"site A\" \\\r\n hostid=ANY SIGN="+
			regexp.MustCompile(`FEATURE solver [^#]*SIGN=(ed1:[A-Za-z0-9_-]+)`).FindStringSubmatch(withoutOther)[1]+"\r\n")
		code, out := check(t, keys, text)
		if code != 0 || strings.Count(out, ": OK\n") != 3 {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("another vendor's key named demo", func(t *testing.T) {
		fake := filepath.Join(t.TempDir(), "demo.pub")
		data, _ := os.ReadFile(otherPub)
		os.WriteFile(fake, []byte(strings.Replace(string(data), " other ", " demo ", 1)), 0o644)
		code, out := check(t, fake, withoutOther)
		if code != 1 || strings.Count(out, ": BAD: signature does not match the line\n") != 3 {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("other vendor's key", func(t *testing.T) {
		code, out := check(t, otherPub, withoutOther)
		if code != 1 || strings.Count(out, ": BAD: no public key for the line's vendor demo\n") != 3 {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("one feature", func(t *testing.T) {
		p := writeLic(t, t.TempDir(), "c.lic", withoutOther)
		code, out, _ := runLmutil(t, "lmutil", "lmcksum", "-vendor-keys", keys, "-c", p, "viewer")
		if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("\"%s\"\n%s:%d: INCREMENT viewer demo 2.0 1-jan-2040 2: OK\n", p, p, lineOf(withoutOther, "INCREMENT"))) {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("resign is stable", func(t *testing.T) {
		p := writeLic(t, t.TempDir(), "c.lic", signed)
		if code, _, errOut := runLmutil(t, "lmutil", "lmcrypt", "-key", demoKey, p); code != 0 {
			t.Fatal(errOut)
		}
		if again, _ := os.ReadFile(p); string(again) != signed {
			t.Errorf("signing a signed file changed it:\n%s\nwas\n%s", again, signed)
		}
	})
}

func TestLmcryptRefuses(t *testing.T) {
	dir := t.TempDir()
	demoKey, _ := keygen(t, dir, "demo")
	bad := writeLic(t, dir, "bad.lic", "FEATURE solver demo 1.0 31-foo-2020 5 SIGN=0\n")
	none := writeLic(t, dir, "none.lic", "FEATURE tool other 1.0 permanent 1 SIGN=0\n")
	pubAsKey := filepath.Join(dir, "pub.key")
	data, _ := os.ReadFile(filepath.Join(dir, "demo.pub"))
	os.WriteFile(pubAsKey, data, 0o600)
	loose := filepath.Join(dir, "loose.key")
	data, _ = os.ReadFile(demoKey)
	os.WriteFile(loose, data, 0o644)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-key", demoKey, bad}, "bad.lic:1: FEATURE solver: expiry"},
		{[]string{"-key", demoKey, none}, "no FEATURE, INCREMENT, UPGRADE or PACKAGE line of vendor demo"},
		{[]string{"-key", demoKey, filepath.Join(dir, "missing.lic")}, "missing.lic"},
		{[]string{"-key", pubAsKey, none}, "want a lmtriad-vendor-private-key"},
		{[]string{bad}, "usage: lmutil lmcrypt -key VENDOR.key FILE..."},
		{[]string{"-key", demoKey}, "usage: lmutil lmcrypt -key VENDOR.key FILE..."},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			args    []string
			wantErr string
		}{[]string{"-key", loose, none}, "must not be readable by others"})
	}
	for _, tt := range tests {
		before, _ := os.ReadFile(bad)
		code, _, errOut := runLmutil(t, append([]string{"lmutil", "lmcrypt"}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%q: exit %d, stderr %q; want %q", tt.args, code, errOut, tt.wantErr)
		}
		if after, _ := os.ReadFile(bad); string(after) != string(before) {
			t.Errorf("%q changed bad.lic", tt.args)
		}
	}
}

// lineOf returns the number of the physical line of text that starts with prefix.
func lineOf(text, prefix string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	return 0
}

// replaceLogical replaces the line of text that starts with prefix, and its
// continuation lines, with repl.
func replaceLogical(text, prefix, repl string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], prefix) {
			b.WriteString(lines[i])
			continue
		}
		b.WriteString(repl)
		for continues(lines[i]) && i+1 < len(lines) {
			i++
		}
	}
	return b.String()
}

// continues reports whether a physical line goes on on the next one, as
// licfile reads it: its last non-blank byte is a backslash.
func continues(line string) bool {
	return strings.HasSuffix(strings.TrimRight(line, " \t\r\n\v\f"), `\`)
}

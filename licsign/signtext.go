package licsign

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/lmtriad/lmtriad/licfile"
)

// SignText returns data, the text of a license file called name, with
// every FEATURE, INCREMENT, UPGRADE and PACKAGE line of k's vendor signed,
// and how many lines it signed (0 leaves data as it is). SIGN=ed1:...
// replaces any SIGN= or license key of those lines, which are rewritten in
// licfile's layout (a trailing comment on them is dropped); every other
// line, comment and blank is kept as it is. The result is parsed and
// verified before it is returned. A text that does not parse is an error.
func SignText(name string, data []byte, k *PrivateKey) ([]byte, int, error) {
	f, err := licfile.Parse(name, data)
	if err != nil {
		return nil, 0, fmt.Errorf("%s not signed:\n%v", name, err)
	}
	phys := strings.SplitAfter(string(data), "\n")
	repl := map[int]string{} // first physical line (0-based) -> new text
	n := 0
	for i := range f.Features {
		ft := f.Features[i]
		if ft.Vendor != k.Vendor {
			continue
		}
		ft.Attrs = withoutSign(ft.Attrs)
		ft.Sign = ""
		sig, err := Sign(licfile.SignedLine{Keyword: ft.Kind.String(), Name: ft.Name, Vendor: ft.Vendor, Canonical: ft.Canonical()}, k)
		if err != nil {
			return nil, 0, err
		}
		ft.Attrs, ft.Sign = append(ft.Attrs, licfile.Attr{Key: "SIGN", Value: sig}), sig
		text, err := printLine(&licfile.File{Features: []licfile.Feature{ft}})
		if err != nil {
			return nil, 0, err
		}
		repl[ft.Pos.Line-1] = text
		n++
	}
	for i := range f.Packages {
		pk := f.Packages[i]
		if pk.Vendor != k.Vendor {
			continue
		}
		pk.Attrs = withoutSign(pk.Attrs)
		pk.Sign = ""
		sig, err := Sign(licfile.SignedLine{Keyword: "PACKAGE", Name: pk.Name, Vendor: pk.Vendor, Canonical: pk.Canonical()}, k)
		if err != nil {
			return nil, 0, err
		}
		pk.Attrs, pk.Sign = append(pk.Attrs, licfile.Attr{Key: "SIGN", Value: sig}), sig
		text, err := printLine(&licfile.File{Packages: []licfile.Package{pk}})
		if err != nil {
			return nil, 0, err
		}
		repl[pk.Pos.Line-1] = text
		n++
	}
	if n == 0 {
		return data, 0, nil
	}
	var b strings.Builder
	for i := 0; i < len(phys); i++ {
		text, ok := repl[i]
		if !ok {
			b.WriteString(phys[i])
			continue
		}
		if strings.HasSuffix(phys[i], "\r\n") {
			text = strings.ReplaceAll(text, "\n", "\r\n")
		}
		b.WriteString(text)
		for continues(phys[i]) && i+1 < len(phys) { // skip the line's continuations
			i++
		}
	}
	out := []byte(b.String())

	// Check the result before it replaces the file.
	g, err := licfile.Parse(name, out)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: the signed text does not parse (not written):\n%v", name, err)
	}
	keys := []*PublicKey{k.Public()}
	checked := 0
	for _, l := range g.SignedLines() {
		if l.Vendor == k.Vendor {
			if err := Verify(l, keys); err != nil {
				return nil, 0, fmt.Errorf("%s: line %d does not verify after signing (not written): %v", name, l.Pos.Line, err)
			}
			checked++
		}
	}
	if checked != n {
		return nil, 0, fmt.Errorf("%s: %d line(s) signed but %d found after signing (not written)", name, n, checked)
	}
	return out, n, nil
}

// continues reports whether a physical line goes on on the next one, as
// licfile reads it: its last non-blank byte is a backslash.
func continues(line string) bool {
	return strings.HasSuffix(strings.TrimRight(line, " \t\r\n\v\f"), `\`)
}

func withoutSign(attrs []licfile.Attr) []licfile.Attr {
	out := make([]licfile.Attr, 0, len(attrs)+1)
	for _, a := range attrs {
		if !strings.EqualFold(a.Key, "SIGN") {
			out = append(out, a)
		}
	}
	return out
}

func printLine(f *licfile.File) (string, error) {
	var buf bytes.Buffer
	if err := licfile.Print(&buf, f); err != nil {
		return "", err
	}
	return buf.String(), nil
}

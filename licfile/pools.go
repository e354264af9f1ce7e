package licfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// poolLine is one FEATURE, INCREMENT or UPGRADE line while Pools works on it.
type poolLine struct {
	f      *Feature
	active bool
	count  int // licenses it brings to its pool after upgrades
}

// Pools groups the lines of files, taken in order, into FlexLM license pools
// as of now (flexlm.md §1.5, §1.6):
//
//   - a line that expired before now's date, or whose START is after it, is
//     left out of the serving pools, and goes instead into a pool of its
//     own kind, keyed apart ("... expired", "... not started"): such a
//     pool keeps its dates, so a checkout it is the best answer for gets
//     FlexLM's -10 (expired) or -31 (start date in the future) instead of
//     -5 (no such feature), and lmstat can list it with the reason;
//   - a line with SUPERSEDE and ISSUED retires the earlier lines of the names
//     it lists (its own name for a bare SUPERSEDE) that were issued before
//     it; a line without ISSUED counts as issued before any date;
//   - a line with the same ed1: signature as an earlier one is a copy and
//     is left out;
//   - only the first FEATURE line of a name (per vendor and HOSTID) counts:
//     FEATURE lines of one name node-locked to different hosts are
//     separate pools;
//   - an UPGRADE takes up to its count from the closest earlier FEATURE or
//     INCREMENT line of that name with from <= version < to, and those
//     licenses move to a pool at the UPGRADE's version;
//   - lines that agree on the pool key (name, vendor, version as a number,
//     BORROW, DUP_GROUP, FLOAT_OK, HOST_BASED, HOSTID, PLATFORMS, TZ,
//     USER_BASED, VENDOR_STRING, VM_PLATFORMS, counted or not) add up.
//
// PACKAGE lines (flexlm.md §1.7) then replace the pools of their enabling
// lines (FEATURE/INCREMENT lines of the package's name, vendor and, when the
// PACKAGE gives one, version) by one pool per component and enabling pool:
// the component's name, its version (else the PACKAGE's, else the enabling
// line's), Count = the component's count (1 when absent) x the enabling
// pool's Count (likewise OVERDRAFT), and every other field (dates, HOSTID,
// USER_BASED...) of the enabling pool; its key is the enabling pool's key
// followed by the component, so it never adds up with a FEATURE line of
// the component's name. The package name itself keeps no pool (a checkout
// of it is FlexLM's -125, see PackageNames). With OPTIONS=SUITE (where
// components carry no count) a component checkout also takes one license
// of the package: the components of one enabling pool share its capacity
// (SuiteKey names them; the package counts the licenses held in all of them
// together against it); SUITE_DUP_GROUP is not applied. A PACKAGE with no enabling line, or
// a later PACKAGE line of a name already expanded, is left out.
//
// Every line left out is reported in excluded with its position and why.
// Pools are sorted by feature name, then by the file order of their first
// line. A pool's Expiry is the soonest expiry among its lines (zero only when
// all are permanent): the next time its count changes.
func Pools(files []*File, now time.Time) (pools []Pool, excluded []*Error) {
	today := DateOf(now)
	n := 0
	for _, file := range files {
		n += len(file.Features)
	}
	lines := make([]poolLine, 0, n)
	byName := map[[2]string][]int{} // vendor, name -> indexes into lines
	for _, file := range files {
		for i := range file.Features {
			f := &file.Features[i]
			k := [2]string{f.Vendor, f.Name}
			byName[k] = append(byName[k], len(lines))
			lines = append(lines, poolLine{f: f, active: true, count: f.Count})
		}
	}
	exclude := func(l *poolLine, format string, args ...any) {
		l.active = false
		msg := l.f.Kind.String() + " " + l.f.Name + ": " + fmt.Sprintf(format, args...)
		excluded = append(excluded, &Error{Pos: l.f.Pos, Msg: msg})
	}
	dormant := map[int]string{} // lines out of their dates: index -> pool key suffix

	for i := range lines {
		l := &lines[i]
		switch {
		case !l.f.Expiry.IsZero() && l.f.Expiry.Compare(today) < 0:
			exclude(l, "expired on %s", l.f.Expiry)
			dormant[i] = " expired"
		case !l.f.Start.IsZero() && l.f.Start.Compare(today) > 0:
			exclude(l, "not started: START=%s is after %s", l.f.Start, today)
			dormant[i] = " not started"
		}
	}

	for i := range lines {
		l := &lines[i]
		if !l.active || len(l.f.Supersede) == 0 || l.f.Issued.IsZero() {
			continue
		}
		for _, name := range l.f.Supersede {
			for _, j := range byName[[2]string{l.f.Vendor, name}] {
				old := &lines[j]
				if j >= i {
					break
				}
				if old.active && old.f.Issued.Compare(l.f.Issued) < 0 {
					exclude(old, "superseded by %s (ISSUED=%s)", l.f.Pos, l.f.Issued)
				}
			}
		}
	}

	// A signed line copied (the same SIGN= on another line) counts once: a
	// signature binds a line's content, so a copy must not add licenses.
	// Lines meant to add up differ in a signed field (SN=, ISSUED=...).
	signed := map[string]Pos{}
	for i := range lines {
		l := &lines[i]
		if !l.active || !strings.HasPrefix(l.f.Sign, "ed1:") {
			continue
		}
		if pos, dup := signed[l.f.Sign]; dup {
			exclude(l, "ignored: a copy of the signed line at %s", pos)
			continue
		}
		signed[l.f.Sign] = l.f.Pos
	}

	first := map[[3]string]Pos{}
	for i := range lines {
		l := &lines[i]
		if !l.active || l.f.Kind != KindFeature {
			continue
		}
		k := [3]string{l.f.Vendor, l.f.Name, strings.ToLower(strings.Join(strings.Fields(l.f.HostID), " "))}
		if pos, dup := first[k]; dup {
			exclude(l, "ignored: the FEATURE line at %s comes first", pos)
			continue
		}
		first[k] = l.f.Pos
	}

	for i := range lines {
		if u := &lines[i]; u.active && u.f.Kind == KindUpgrade {
			upgrade(lines, byName[[2]string{u.f.Vendor, u.f.Name}], i, exclude)
		}
	}

	index := map[string]int{} // pool key -> index into pools
	for i := range lines {
		l := &lines[i]
		suffix, out := dormant[i]
		if !l.active && !out {
			continue
		}
		key := poolKey(l.f) + suffix
		pi, ok := index[key]
		if !ok {
			pi = len(pools)
			index[key] = pi
			pools = append(pools, newPool(key, l.f))
		}
		p := &pools[pi]
		p.Count += l.count
		p.Overdraft += l.f.Overdraft
		p.Lines = append(p.Lines, l.f.Pos)
		if e := l.f.Expiry; !e.IsZero() && (p.Expiry.IsZero() || e.Compare(p.Expiry) < 0) {
			p.Expiry, p.ExpiryText = e, l.f.ExpiryText
		}
	}
	pools, excluded = expandPackages(files, pools, excluded)
	// pools is in order of first line already; a stable sort by name keeps
	// it, with the pools out of their dates after the serving ones.
	sort.SliceStable(pools, func(i, j int) bool {
		if pools[i].Name != pools[j].Name {
			return pools[i].Name < pools[j].Name
		}
		return pools[i].OutOfDate(today) == "" && pools[j].OutOfDate(today) != ""
	})
	return pools, excluded
}

// upgrade applies the UPGRADE line lines[u]: it takes licenses from the
// closest earlier active FEATURE or INCREMENT line of the same name (same
// indexes, in order) whose version is in [from, to) and still has some.
func upgrade(lines []poolLine, same []int, u int, exclude func(*poolLine, string, ...any)) {
	up := &lines[u]
	found := false
	for k := len(same) - 1; k >= 0; k-- {
		j := same[k]
		src := &lines[j]
		if j >= u || !src.active || src.f.Kind == KindUpgrade ||
			CompareVersions(src.f.Version, up.f.FromVersion) < 0 || CompareVersions(src.f.Version, up.f.Version) >= 0 {
			continue
		}
		found = true
		switch {
		case up.f.Uncounted:
			return
		case src.f.Uncounted:
			up.count = up.f.Count
			return
		case src.count > 0:
			up.count = min(up.f.Count, src.count)
			src.count -= up.count
			return
		}
	}
	if found {
		exclude(up, "nothing left to upgrade: every line with version >= %s and < %s is used up", up.f.FromVersion, up.f.Version)
	} else {
		exclude(up, "no earlier FEATURE or INCREMENT line with version >= %s and < %s", up.f.FromVersion, up.f.Version)
	}
}

// poolKeyAttrs are the attributes besides name and version that split
// pools (flexlm.md §1.5). BORROW, FLOAT_OK, HOST_BASED and USER_BASED count
// as given or not, with their value.
var poolKeyAttrs = []string{"BORROW", "DUP_GROUP", "FLOAT_OK", "HOST_BASED", "HOSTID", "PLATFORMS", "TZ", "USER_BASED", "VENDOR_STRING", "VM_PLATFORMS"}

// poolKey is a stable text naming f's pool: the same lines give the same key
// on every reread.
func poolKey(f *Feature) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(f.Vendor))
	b.WriteByte(' ')
	b.WriteString(strconv.Quote(f.Name))
	b.WriteString(" v")
	b.WriteString(normVersion(f.Version))
	if f.Uncounted {
		b.WriteString(" uncounted")
	}
	for _, k := range poolKeyAttrs {
		a, ok := f.Attr(k)
		if !ok {
			continue
		}
		v := a.Value
		switch k {
		case "BORROW":
			v = strconv.Itoa(f.Borrow)
		case "DUP_GROUP":
			v = strings.ToUpper(v)
		case "HOSTID":
			v = strings.ToLower(strings.Join(strings.Fields(v), " "))
		}
		b.WriteString(" " + k + "=" + strconv.Quote(v))
	}
	return b.String()
}

// OutOfDate says why a pool serves nothing on day: "expired", "not
// started", or "" when it is within its dates.
func (p Pool) OutOfDate(day Date) string {
	switch {
	case !p.Expiry.IsZero() && p.Expiry.Compare(day) < 0:
		return "expired"
	case !p.Start.IsZero() && p.Start.Compare(day) > 0:
		return "not started"
	}
	return ""
}

func newPool(key string, f *Feature) Pool {
	return Pool{
		Key:          key,
		Name:         f.Name,
		Vendor:       f.Vendor,
		Version:      f.Version,
		ExpiryText:   f.ExpiryText,
		Start:        f.Start,
		Uncounted:    f.Uncounted,
		HostID:       f.HostID,
		VendorString: f.VendorString,
		DupGroup:     f.DupGroup,
		UserBased:    f.UserBased,
		HostBased:    f.HostBased,
		Borrow:       f.Borrow,
	}
}

// Attr returns the first attribute of f whose keyword is key, in any case.
func (f *Feature) Attr(key string) (Attr, bool) {
	for _, a := range f.Attrs {
		if strings.EqualFold(a.Key, key) {
			return a, true
		}
	}
	return Attr{}, false
}

// expandPackages replaces the enabling pools of every PACKAGE line of files
// by its components' pools (see Pools).
func expandPackages(files []*File, pools []Pool, excluded []*Error) ([]Pool, []*Error) {
	done := map[[2]string]Pos{}
	enabling := map[int]bool{} // indexes of pools replaced
	var comps []Pool
	compIndex := map[string]int{}
	for _, file := range files {
		for i := range file.Packages {
			pk := &file.Packages[i]
			if len(pk.Components) == 0 {
				continue // refused by the parser already
			}
			k := [2]string{pk.Vendor, pk.Name}
			if pos, dup := done[k]; dup {
				excluded = append(excluded, &Error{Pos: pk.Pos, Msg: "PACKAGE " + pk.Name + ": ignored: the PACKAGE line at " + pos.String() + " comes first"})
				continue
			}
			found := false
			for pi := range pools {
				en := &pools[pi]
				if en.Vendor != pk.Vendor || en.Name != pk.Name || enabling[pi] ||
					pk.Version != "" && CompareVersions(en.Version, pk.Version) != 0 {
					continue
				}
				found = true
				enabling[pi] = true
				for _, c := range pk.Components {
					ver := c.Version
					if ver == "" {
						ver = pk.Version
					}
					if ver == "" {
						ver = en.Version
					}
					mult := max(c.Count, 1)
					cp := *en
					marker := componentMarker
					if pk.Suite {
						marker = suiteMarker
					}
					cp.Key = en.Key + marker + strconv.Quote(c.Name) + " v" + normVersion(ver)
					cp.Name = c.Name
					cp.Version = ver
					cp.Count = en.Count * mult
					cp.Overdraft = en.Overdraft * mult
					if ci, ok := compIndex[cp.Key]; ok {
						comps[ci].Count += cp.Count
						comps[ci].Overdraft += cp.Overdraft
						continue
					}
					cp.Lines = append(append([]Pos(nil), en.Lines...), pk.Pos)
					compIndex[cp.Key] = len(comps)
					comps = append(comps, cp)
				}
			}
			if !found {
				msg := "PACKAGE " + pk.Name + ": ignored: no FEATURE or INCREMENT line " + pk.Name
				if pk.Version != "" {
					msg += " " + pk.Version
				}
				excluded = append(excluded, &Error{Pos: pk.Pos, Msg: msg + " of vendor " + pk.Vendor + " enables it"})
				continue
			}
			done[k] = pk.Pos
		}
	}
	if len(enabling) == 0 {
		return pools, excluded
	}
	out := make([]Pool, 0, len(pools)-len(enabling)+len(comps))
	for i, p := range pools {
		if !enabling[i] {
			out = append(out, p)
		}
	}
	return append(out, comps...), excluded
}

// The pool keys of PACKAGE components: the enabling pool's key, a
// marker, then the component's name and version.
const (
	componentMarker = " component "
	suiteMarker     = " suite component "
)

// SuiteKey returns, for the key of a component pool of an OPTIONS=SUITE
// PACKAGE, the key of the package's enabling pool, which the components of
// that suite share; "" for any other key.
func SuiteKey(poolKey string) string {
	i := strings.LastIndex(poolKey, suiteMarker)
	if i < 0 {
		return ""
	}
	return poolKey[:i]
}

// PackageNames is the set of names of vendor's PACKAGE lines in files: a
// checkout of one of them (which has no pool of its own, see Pools) is
// refused with FlexLM's -125 "A PACKAGE component must be specified."
func PackageNames(files []*File, vendor string) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		for _, pk := range f.Packages {
			if pk.Vendor == vendor {
				out[pk.Name] = true
			}
		}
	}
	return out
}

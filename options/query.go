package options

import (
	"fmt"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

// Reservation is a RESERVE line: Count licenses of the feature set aside for
// the entity.
type Reservation struct {
	Pos     Pos
	Count   int
	Feature FeatureSpec
	Entity
}

// Limit is a MAX line: the entity may hold at most Max licenses of the
// feature.
type Limit struct {
	Pos     Pos
	Max     int
	Feature FeatureSpec
	Entity
}

// lines calls fn with each line of keyword kw that applies to f, in file
// order: lines whose feature spec matches f, and, when all is set, the
// lines of kw that name no feature (INCLUDEALL...).
func (o *Options) lines(f FeatureRef, all bool, kw Keyword, fn func(l *Line)) {
	if o == nil {
		return
	}
	feat := o.byFeature[f.Name]
	var glob []int
	if all {
		glob = o.global
	}
	// Merge the two index lists to keep file order.
	for len(feat) > 0 || len(glob) > 0 {
		var i int
		if len(glob) == 0 || len(feat) > 0 && feat[0] < glob[0] {
			i, feat = feat[0], feat[1:]
		} else {
			i, glob = glob[0], glob[1:]
		}
		l := &o.Lines[i]
		if l.Keyword != kw {
			continue
		}
		if l.Feature.Name == "" || l.Feature.Matches(f) {
			fn(l)
		}
	}
}

// Allowed reports whether r may check out f: 0, or wire.CodeFeatExclude
// (-38) when an EXCLUDE or EXCLUDEALL line names r, or
// wire.CodeFeatNotInclude (-39) when INCLUDE or INCLUDEALL lines apply to f
// and none names r. why names the deciding line (file:line); it is empty
// when no list applies.
func (o *Options) Allowed(f FeatureRef, r Requester) (code int, why string) {
	return o.allowed(f, r, KeywordExclude, KeywordExcludeAll, KeywordInclude, KeywordIncludeAll)
}

// BorrowAllowed is Allowed for borrowing, with EXCLUDE_BORROW and
// INCLUDE_BORROW (there are no ALL forms) and the same codes. It does not
// ask Allowed: a borrow is a checkout too and needs both.
func (o *Options) BorrowAllowed(f FeatureRef, r Requester) (code int, why string) {
	return o.allowed(f, r, KeywordExcludeBorrow, KeywordUnknown, KeywordIncludeBorrow, KeywordUnknown)
}

func (o *Options) allowed(f FeatureRef, r Requester, excl, exclAll, incl, inclAll Keyword) (int, string) {
	var hit *Line
	match := func(l *Line) {
		if hit == nil && o.Matches(l.Entity, r) {
			hit = l
		}
	}
	o.lines(f, false, excl, match)
	if exclAll != KeywordUnknown {
		o.lines(f, true, exclAll, match)
	}
	if hit != nil {
		return wire.CodeFeatExclude, fmt.Sprintf("%s is excluded from %s by %s %s at %s",
			r, f.Name, hit.Keyword, hit.Entity, hit.Pos)
	}
	var first *Line
	check := func(l *Line) {
		if first == nil {
			first = l
		}
		match(l)
	}
	o.lines(f, false, incl, check)
	if inclAll != KeywordUnknown {
		o.lines(f, true, inclAll, check)
	}
	switch {
	case first == nil:
		return 0, ""
	case hit == nil:
		return wire.CodeFeatNotInclude, fmt.Sprintf("%s is not on the %s list for %s (first entry at %s)",
			r, first.Keyword, f.Name, first.Pos)
	}
	return 0, fmt.Sprintf("%s is included in %s by %s %s at %s", r, f.Name, hit.Keyword, hit.Entity, hit.Pos)
}

// IncludeListed reports whether an INCLUDE or INCLUDEALL line applies to f:
// a USER_BASED or HOST_BASED feature without one has no named users
// (FlexLM's -84).
func (o *Options) IncludeListed(f FeatureRef) bool {
	found := false
	seen := func(*Line) { found = true }
	o.lines(f, false, KeywordInclude, seen)
	o.lines(f, true, KeywordIncludeAll, seen)
	return found
}

// Reservations returns the RESERVE lines that apply to f, in file order.
func (o *Options) Reservations(f FeatureRef) []Reservation {
	var out []Reservation
	o.lines(f, false, KeywordReserve, func(l *Line) {
		out = append(out, Reservation{Pos: l.Pos, Count: l.Value, Feature: l.Feature, Entity: l.Entity})
	})
	return out
}

// ReservationMatches reports whether r may use the licenses res reserves.
func (o *Options) ReservationMatches(res Reservation, r Requester) bool {
	return o.Matches(res.Entity, r)
}

// Limits returns the MAX lines that apply to f, in file order. A pool that
// counts use per entity (the whole of a GROUP) checks each with Matches.
func (o *Options) Limits(f FeatureRef) []Limit {
	var out []Limit
	o.lines(f, false, KeywordMax, func(l *Line) {
		out = append(out, Limit{Pos: l.Pos, Max: l.Value, Feature: l.Feature, Entity: l.Entity})
	})
	return out
}

// Max returns the smallest MAX that applies to f and names r; ok is false
// when none does. Checking out past it gives wire.CodeMaxLimit (-87).
func (o *Options) Max(f FeatureRef, r Requester) (limit int, ok bool) {
	for _, l := range o.Limits(f) {
		if o.Matches(l.Entity, r) && (!ok || l.Max < limit) {
			limit, ok = l.Max, true
		}
	}
	return limit, ok
}

// last returns the Value of the last line of kw that applies to f.
func (o *Options) last(f FeatureRef, kw Keyword) (int, bool) {
	v, ok := 0, false
	o.lines(f, false, kw, func(l *Line) { v, ok = l.Value, true })
	return v, ok
}

// Timeout returns the inactivity timeout of f: the last TIMEOUT line that
// applies, else the last TIMEOUTALL, raised to MinTimeout seconds. ok is
// false when neither exists: FlexLM then times nothing out.
func (o *Options) Timeout(f FeatureRef) (time.Duration, bool) {
	v, ok := o.last(f, KeywordTimeout)
	if !ok {
		o.lines(FeatureRef{}, true, KeywordTimeoutAll, func(l *Line) { v, ok = l.Value, true })
	}
	if !ok {
		return 0, false
	}
	return time.Duration(max(v, MinTimeout)) * time.Second, true
}

// Linger returns the LINGER of f: how long a license stays checked out
// after check-in.
func (o *Options) Linger(f FeatureRef) (time.Duration, bool) {
	v, ok := o.last(f, KeywordLinger)
	return time.Duration(v) * time.Second, ok
}

// MaxOverdraft returns the MAX_OVERDRAFT of f: the cap on its OVERDRAFT.
func (o *Options) MaxOverdraft(f FeatureRef) (int, bool) { return o.last(f, KeywordMaxOverdraft) }

// BorrowLowwater returns the BORROW_LOWWATER of f: licenses that may not be
// borrowed.
func (o *Options) BorrowLowwater(f FeatureRef) (int, bool) { return o.last(f, KeywordBorrowLowwater) }

// MaxBorrowHours returns the MAX_BORROW_HOURS of f; the last line wins.
func (o *Options) MaxBorrowHours(f FeatureRef) (hours int, ok bool) {
	return o.last(f, KeywordMaxBorrowHours)
}

// NoLog reports whether a NOLOG line drops messages of kind k.
func (o *Options) NoLog(k LogKind) bool {
	return o != nil && k > 0 && k < numLogKinds && o.noLog[k]
}

// ReportLog returns the last REPORTLOG line's path and whether it appends
// ('+'); ok is false without one.
func (o *Options) ReportLog() (path string, appendMode, ok bool) {
	if o == nil || o.reportLog == nil {
		return "", false, false
	}
	return o.reportLog.Path, o.reportLog.Append, true
}

// DebugLog returns the last DEBUGLOG line's path and whether it appends.
func (o *Options) DebugLog() (path string, appendMode, ok bool) {
	if o == nil || o.debugLog == nil {
		return "", false, false
	}
	return o.debugLog.Path, o.debugLog.Append, true
}

// CaseInsensitive reports whether GROUPCASEINSENSITIVE is ON.
func (o *Options) CaseInsensitive() bool { return o != nil && o.caseInsensitive }

// Group returns the members of the GROUP lines named name, in file order
// without repeats; nil when none defines it.
func (o *Options) Group(name string) []string { return o.members(KeywordGroup, name) }

// HostGroup returns the members of the HOST_GROUP lines named name.
func (o *Options) HostGroup(name string) []string { return o.members(KeywordHostGroup, name) }

func (o *Options) members(kw Keyword, name string) []string {
	if o == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range o.Lines {
		if l.Keyword != kw || l.Group != name {
			continue
		}
		for _, m := range l.Members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

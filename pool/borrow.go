package pool

import (
	"crypto/subtle"
	"slices"
	"time"
)

// ---- BORROW ----
//
// A borrowed license is a holder out of any session (Session 0), as a
// lingering one is, with BorrowUntil set: it is granted by an ordinary
// Grant delta whose holder carries BorrowUntil (a replica makes it
// borrowed from that alone), and freed by Expire at BorrowUntil (reason
// BorrowEnd) or by Return (reason Returned). Closing a session, a timeout
// or a checkin never touch it.

// Borrow-specific FlexLM error numbers (flexlm.md §7).
const (
	CodeNoneToBorrow = -67  // LM_NONETOBORROW
	CodeBorrowLong   = -104 // LM_BORROW_TOOLONG
)

func init() {
	denialText[CodeNoneToBorrow] = "No licenses available to borrow."
	denialText[CodeBorrowLong] = "Cannot borrow that long."
}

// borrowCheck is what a Borrow asks of each candidate pool.
type borrowCheck struct {
	until time.Time
}

// borrowedOut reports whether h is a borrowed license.
func (h *Holder) borrowedOut() bool { return !h.BorrowUntil.IsZero() }

// Borrow checks out req.Count licenses of req.Feature as Checkout does,
// borrowed until until: the holder belongs to no session and stays until
// Expire reaches until or Return gives it back. Besides Checkout's checks,
// the pool must have a BORROW (else -67), the options file must allow the
// client to borrow it (EXCLUDE_BORROW -38, INCLUDE_BORROW -39), until-now
// must not exceed the line's BORROW hours nor MAX_BORROW_HOURS (-104), and
// BORROW_LOWWATER licenses of the pool must stay unborrowed (-67).
// req.Handle is ignored: a borrow is always a new handle, never a
// lingering license taken back. The error is a *Denial.
func (s *State) Borrow(req CheckoutRequest, until, now time.Time) (Holder, []Delta, error) {
	now, until = now.Round(0), until.Round(0)
	if !until.After(now) {
		return Holder{}, nil, NewDenial(CodeBorrowLong)
	}
	req.Handle = 0
	return s.checkout(req, now, &borrowCheck{until: until})
}

// borrowable is the denial code (0 for none) of borrowing req from p.
func (s *State) borrowable(p *poolState, req *CheckoutRequest, b *borrowCheck, now time.Time) int {
	if p.pool.Borrow <= 0 {
		return CodeNoneToBorrow
	}
	hours := p.pool.Borrow
	if pol := s.ps.pol; pol != nil {
		r := req.Client.Requester()
		if code, _ := pol.BorrowAllowed(p.ref, r); code != 0 {
			return code
		}
		if m, ok := pol.MaxBorrowHours(p.ref); ok && m < hours {
			hours = m
		}
	}
	if b.until.Sub(now) > time.Duration(hours)*time.Hour {
		return CodeBorrowLong
	}
	if p.pool.Uncounted {
		return 0
	}
	low := 0
	if pol := s.ps.pol; pol != nil {
		low, _ = pol.BorrowLowwater(p.ref)
	}
	count := max(req.Count, 1)
	if s.borrowedIn(p)+count > p.pool.Count-low {
		return CodeNoneToBorrow
	}
	return 0
}

// borrowedIn is how many licenses of p are borrowed.
func (s *State) borrowedIn(p *poolState) int {
	n := 0
	for _, h := range s.borrowed {
		if h.pool == p {
			n += h.Count
		}
	}
	return n
}

// insertBorrowed records borrowed holder h under pool p, out of any session.
func (s *State) insertBorrowed(h *holder, p *poolState, now time.Time) {
	h.Session = 0
	h.LastSeen = now
	p.link(h)
	s.holders[h.Handle] = h
	s.borrowed[h.Handle] = h
	s.nextHandle = max(s.nextHandle, h.Handle+1)
}

// Return gives back borrowed license handle of feature before its end
// (lmborrow -return): secret must be the holder's. It fails with -41 when
// the handle is not a borrowed license of feature or the secret is wrong.
func (s *State) Return(feature string, handle uint64, secret string, now time.Time) ([]Delta, error) {
	now = now.Round(0)
	h := s.borrowed[handle]
	if h == nil || h.Feature != feature {
		return nil, NewDenial(CodeNeverCheckedOut)
	}
	if h.Secret != "" && subtle.ConstantTimeCompare([]byte(h.Secret), []byte(secret)) != 1 {
		return nil, newSecretDenial()
	}
	ds := []Delta{s.release(h, Returned, now)}
	return append(ds, s.serveQueues(NoReason, now)...), nil // the returned license may go to the queue's head
}

// Borrowed returns how many licenses are borrowed.
func (s *State) Borrowed() int {
	n := 0
	for _, h := range s.borrowed {
		n += h.Count
	}
	return n
}

// borrowEnded is the borrowed holders whose BorrowUntil is not after now.
func (s *State) borrowEnded(now time.Time) []*holder {
	var hs []*holder
	for _, h := range s.borrowed {
		if !h.BorrowUntil.After(now) {
			hs = append(hs, h)
		}
	}
	slices.SortFunc(hs, byHandle)
	return hs
}

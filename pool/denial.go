package pool

import "strconv"

// FlexLM error numbers (flexlm.md §7) that the pool produces.
const (
	CodeMaxUsers        = -4   // LM_MAXUSERS
	CodeNoFeature       = -5   // LM_NOFEATURE
	CodeNotThisHost     = -9   // LM_NOTTHISHOST
	CodeExpired         = -10  // LM_LONGGONE
	CodeOldVersion      = -21  // LM_OLDVER
	CodeTooMany         = -26  // LM_TOOMANY
	CodeTooEarly        = -31  // LM_TOOEARLY
	CodeFeatQueue       = -35  // LM_FEATQUEUE
	CodeFeatExclude     = -38  // LM_FEATEXCLUDE
	CodeFeatNotInclude  = -39  // LM_FEATNOTINCLUDE
	CodeNeverCheckedOut = -41  // LM_NEVERCHECKOUT
	CodeMaxLimit        = -87  // LM_MAXLIMIT
	CodeServerRemoved   = -92  // LM_SERVER_REMOVED
	CodeRemoveLinger    = -100 // LM_REMOVE_LINGER
	CodeReserved        = -101 // LM_RESVFOROTHERS
	CodeUserBased       = -84  // LM_USERBASED
	CodeJustPackage     = -125 // LM_CANT_CHECKOUT_JUST_PACKAGE
)

var denialText = map[int]string{
	CodeMaxUsers:        "Licensed number of users already reached.",
	CodeNoFeature:       "No such feature exists.",
	CodeNotThisHost:     "Invalid host.",
	CodeExpired:         "Feature has expired.",
	CodeOldVersion:      "License file does not support this version.",
	CodeTooMany:         "Request for more licenses than this feature supports.",
	CodeTooEarly:        "Feature start date is in the future.",
	CodeFeatQueue:       "In the queue for this feature.",
	CodeNeverCheckedOut: "Feature was never checked out.",
	CodeFeatExclude:     "User/host on EXCLUDE list for feature.",
	CodeFeatNotInclude:  "User/host not on INCLUDE list for feature.",
	CodeMaxLimit:        "Checkout exceeds MAX specified in options file.",
	CodeRemoveLinger:    "Cannot remove a linger license.",
	CodeReserved:        "All licenses are reserved for others.",
	CodeServerRemoved:   "Feature removed during lmreread, or wrong SERVER line hostid.",
	CodeUserBased:       "USER_BASED license has no specified users -- see license server system log.",
	CodeJustPackage:     "A PACKAGE component must be specified.",
}

// Denial is a refused request: a FlexLM error number for the client and its
// exact FlexLM message text.
type Denial struct {
	Code   int
	Reason string
	// BadSecret marks a reattach refused because the client presented a
	// wrong or no secret for a handle held under its identity.
	BadSecret bool
	// Handle is, for -35 (CodeFeatQueue), the queued request's handle.
	Handle uint64
}

func newSecretDenial() *Denial {
	d := NewDenial(CodeNeverCheckedOut)
	d.BadSecret = true
	return d
}

// Error returns the FlexLM message text.
func (d *Denial) Error() string { return d.Reason }

// NewDenial returns the Denial for a FlexLM error number with its standard
// text; an unknown number gets a generic text naming it.
func NewDenial(code int) *Denial {
	if t, ok := denialText[code]; ok {
		return &Denial{Code: code, Reason: t}
	}
	return &Denial{Code: code, Reason: "FlexLM error " + strconv.Itoa(code) + "."}
}

// The codes, symbols and texts below are copied from the reference table of
// FlexLM error codes (flexlm.md §7); TestCodeTable checks them against it.

package wire

// FlexLM error codes (lm_errno, lmerrors.h numbering), one per row of the
// reference table. The texts are the exact FLEXnet 11.x strings, see [Text].
const (
	CodeNoConfFile              = -1   // LM_NOCONFFILE: Cannot find license file.
	CodeBadFile                 = -2   // LM_BADFILE: Invalid license file syntax.
	CodeNoServer                = -3   // LM_NOSERVER: No license server system for this feature.
	CodeMaxUsers                = -4   // LM_MAXUSERS: Licensed number of users already reached.
	CodeNoFeature               = -5   // LM_NOFEATURE: No such feature exists.
	CodeNoService               = -6   // LM_NOSERVICE: No port number in license file and "FLEXnet" service does not exist.
	CodeNoSocket                = -7   // LM_NOSOCKET: No socket connection to license server manager.
	CodeBadCode                 = -8   // LM_BADCODE: Invalid (inconsistent) license key.
	CodeNotThisHost             = -9   // LM_NOTTHISHOST: Invalid host.
	CodeLongGone                = -10  // LM_LONGGONE: Feature has expired.
	CodeBadDate                 = -11  // LM_BADDATE: Invalid date format in license file.
	CodeBadComm                 = -12  // LM_BADCOMM: Invalid returned data from license server system.
	CodeNoServerInFile          = -13  // LM_NO_SERVER_IN_FILE: No SERVER lines in license file.
	CodeBadHost                 = -14  // LM_BADHOST: Cannot find SERVER hostname in network database.
	CodeCantConnect             = -15  // LM_CANTCONNECT: Cannot connect to license server system.
	CodeCantRead                = -16  // LM_CANTREAD: Cannot read data from license server system.
	CodeCantWrite               = -17  // LM_CANTWRITE: Cannot write data to license server system.
	CodeNoServSupp              = -18  // LM_NOSERVSUPP: License server system does not support this feature.
	CodeServBusy                = -20  // LM_SERVBUSY: License server system busy (no majority).
	CodeOldVer                  = -21  // LM_OLDVER: License file does not support this version.
	CodeBusyNewServ             = -23  // LM_BUSYNEWSERV: License server system temporarily busy (new server connecting).
	CodeUsersQueued             = -24  // LM_USERSQUEUED: Users are queued for this feature.
	CodeServLongGone            = -25  // LM_SERVLONGGONE: License server system does not support this version of this feature.
	CodeTooMany                 = -26  // LM_TOOMANY: Request for more licenses than this feature supports.
	CodeTooEarly                = -31  // LM_TOOEARLY: Feature start date is in the future.
	CodeClockBad                = -34  // LM_CLOCKBAD: Clock difference too large between client and license server system.
	CodeFeatQueue               = -35  // LM_FEATQUEUE: In the queue for this feature.
	CodeBadFeatParam            = -37  // LM_BADFEATPARAM: Duplicate selection mismatch for this feature.
	CodeFeatExclude             = -38  // LM_FEATEXCLUDE: User/host on EXCLUDE list for feature.
	CodeFeatNotInclude          = -39  // LM_FEATNOTINCLUDE: User/host not on INCLUDE list for feature.
	CodeNeverCheckout           = -41  // LM_NEVERCHECKOUT: Feature was never checked out.
	CodeNoServResp              = -52  // LM_NOSERVRESP: Vendor daemon did not respond within timeout interval.
	CodeNotLicAdmin             = -63  // LM_NOTLICADMIN: You are not a license administrator.
	CodeRemoveTooSoon           = -64  // LM_REMOVETOOSOON: lmremove request before the minimum lmremove interval.
	CodeNoneToBorrow            = -67  // LM_NONETOBORROW: No licenses available to borrow.
	CodeBadPkg                  = -82  // LM_BADPKG: Invalid PACKAGE line in license file.
	CodeServOldVer              = -83  // LM_SERVOLDVER: Version of vendor daemon is too old.
	CodeUserBased               = -84  // LM_USERBASED: USER_BASED license has no specified users -- see license server system log.
	CodeMaxLimit                = -87  // LM_MAXLIMIT: Checkout exceeds MAX specified in options file.
	CodeBadSysDate              = -88  // LM_BADSYSDATE: System clock has been set back.
	CodeFutureFile              = -90  // LM_FUTURE_FILE: Future license file format or misspelling in license file.
	CodeServerRemoved           = -92  // LM_SERVER_REMOVED: Feature removed during lmreread, or wrong SERVER line hostid.
	CodeThisHostNetFailed       = -95  // LM_NOT_THIS_HOST: Network connect to THIS_HOST failed.
	CodeHostDown                = -96  // LM_HOSTDOWN: License server machine is down or not responding.
	CodeVendorDown              = -97  // LM_VENDOR_DOWN: The desired vendor daemon is down.
	CodeRemoveLinger            = -100 // LM_REMOVE_LINGER: Cannot remove a linger license.
	CodeResvForOthers           = -101 // LM_RESVFOROTHERS: All licenses are reserved for others.
	CodeBorrowTooLong           = -104 // LM_BORROW_TOOLONG: Cannot borrow that long.
	CodeServerMaxedOut          = -106 // LM_SERVER_MAXED_OUT: License server system is out of network connections.
	CodeSignReq                 = -114 // LM_SIGN_REQ: SIGN= keyword required but missing from the license certificate.
	CodeMustBeLocal             = -119 // LM_MUST_BE_LOCAL: lmdown/lmreread must be run on the license server machine.
	CodeBorrowDown              = -120 // LM_BORROW_DOWN: Cannot lmdown the server when licenses are borrowed.
	CodeCantCheckoutJustPackage = -125 // LM_CANT_CHECKOUT_JUST_PACKAGE: A PACKAGE component must be specified.
)

// Sentinel errors, one per code, for errors.Is: an [*Error] matches a
// sentinel when the codes are equal, whatever the minor code and detail.
var (
	ErrNoConfFile              = &Error{Code: CodeNoConfFile, Text: "Cannot find license file."}
	ErrBadFile                 = &Error{Code: CodeBadFile, Text: "Invalid license file syntax."}
	ErrNoServer                = &Error{Code: CodeNoServer, Text: "No license server system for this feature."}
	ErrMaxUsers                = &Error{Code: CodeMaxUsers, Text: "Licensed number of users already reached."}
	ErrNoFeature               = &Error{Code: CodeNoFeature, Text: "No such feature exists."}
	ErrNoService               = &Error{Code: CodeNoService, Text: "No port number in license file and \"FLEXnet\" service does not exist."}
	ErrNoSocket                = &Error{Code: CodeNoSocket, Text: "No socket connection to license server manager."}
	ErrBadCode                 = &Error{Code: CodeBadCode, Text: "Invalid (inconsistent) license key."}
	ErrNotThisHost             = &Error{Code: CodeNotThisHost, Text: "Invalid host."}
	ErrLongGone                = &Error{Code: CodeLongGone, Text: "Feature has expired."}
	ErrBadDate                 = &Error{Code: CodeBadDate, Text: "Invalid date format in license file."}
	ErrBadComm                 = &Error{Code: CodeBadComm, Text: "Invalid returned data from license server system."}
	ErrNoServerInFile          = &Error{Code: CodeNoServerInFile, Text: "No SERVER lines in license file."}
	ErrBadHost                 = &Error{Code: CodeBadHost, Text: "Cannot find SERVER hostname in network database."}
	ErrCantConnect             = &Error{Code: CodeCantConnect, Text: "Cannot connect to license server system."}
	ErrCantRead                = &Error{Code: CodeCantRead, Text: "Cannot read data from license server system."}
	ErrCantWrite               = &Error{Code: CodeCantWrite, Text: "Cannot write data to license server system."}
	ErrNoServSupp              = &Error{Code: CodeNoServSupp, Text: "License server system does not support this feature."}
	ErrServBusy                = &Error{Code: CodeServBusy, Text: "License server system busy (no majority)."}
	ErrOldVer                  = &Error{Code: CodeOldVer, Text: "License file does not support this version."}
	ErrBusyNewServ             = &Error{Code: CodeBusyNewServ, Text: "License server system temporarily busy (new server connecting)."}
	ErrUsersQueued             = &Error{Code: CodeUsersQueued, Text: "Users are queued for this feature."}
	ErrServLongGone            = &Error{Code: CodeServLongGone, Text: "License server system does not support this version of this feature."}
	ErrTooMany                 = &Error{Code: CodeTooMany, Text: "Request for more licenses than this feature supports."}
	ErrTooEarly                = &Error{Code: CodeTooEarly, Text: "Feature start date is in the future."}
	ErrClockBad                = &Error{Code: CodeClockBad, Text: "Clock difference too large between client and license server system."}
	ErrFeatQueue               = &Error{Code: CodeFeatQueue, Text: "In the queue for this feature."}
	ErrBadFeatParam            = &Error{Code: CodeBadFeatParam, Text: "Duplicate selection mismatch for this feature."}
	ErrFeatExclude             = &Error{Code: CodeFeatExclude, Text: "User/host on EXCLUDE list for feature."}
	ErrFeatNotInclude          = &Error{Code: CodeFeatNotInclude, Text: "User/host not on INCLUDE list for feature."}
	ErrNeverCheckout           = &Error{Code: CodeNeverCheckout, Text: "Feature was never checked out."}
	ErrNoServResp              = &Error{Code: CodeNoServResp, Text: "Vendor daemon did not respond within timeout interval."}
	ErrNotLicAdmin             = &Error{Code: CodeNotLicAdmin, Text: "You are not a license administrator."}
	ErrRemoveTooSoon           = &Error{Code: CodeRemoveTooSoon, Text: "lmremove request before the minimum lmremove interval."}
	ErrNoneToBorrow            = &Error{Code: CodeNoneToBorrow, Text: "No licenses available to borrow."}
	ErrBadPkg                  = &Error{Code: CodeBadPkg, Text: "Invalid PACKAGE line in license file."}
	ErrServOldVer              = &Error{Code: CodeServOldVer, Text: "Version of vendor daemon is too old."}
	ErrUserBased               = &Error{Code: CodeUserBased, Text: "USER_BASED license has no specified users -- see license server system log."}
	ErrMaxLimit                = &Error{Code: CodeMaxLimit, Text: "Checkout exceeds MAX specified in options file."}
	ErrBadSysDate              = &Error{Code: CodeBadSysDate, Text: "System clock has been set back."}
	ErrFutureFile              = &Error{Code: CodeFutureFile, Text: "Future license file format or misspelling in license file."}
	ErrServerRemoved           = &Error{Code: CodeServerRemoved, Text: "Feature removed during lmreread, or wrong SERVER line hostid."}
	ErrThisHostNetFailed       = &Error{Code: CodeThisHostNetFailed, Text: "Network connect to THIS_HOST failed."}
	ErrHostDown                = &Error{Code: CodeHostDown, Text: "License server machine is down or not responding."}
	ErrVendorDown              = &Error{Code: CodeVendorDown, Text: "The desired vendor daemon is down."}
	ErrRemoveLinger            = &Error{Code: CodeRemoveLinger, Text: "Cannot remove a linger license."}
	ErrResvForOthers           = &Error{Code: CodeResvForOthers, Text: "All licenses are reserved for others."}
	ErrBorrowTooLong           = &Error{Code: CodeBorrowTooLong, Text: "Cannot borrow that long."}
	ErrServerMaxedOut          = &Error{Code: CodeServerMaxedOut, Text: "License server system is out of network connections."}
	ErrSignReq                 = &Error{Code: CodeSignReq, Text: "SIGN= keyword required but missing from the license certificate."}
	ErrMustBeLocal             = &Error{Code: CodeMustBeLocal, Text: "lmdown/lmreread must be run on the license server machine."}
	ErrBorrowDown              = &Error{Code: CodeBorrowDown, Text: "Cannot lmdown the server when licenses are borrowed."}
	ErrCantCheckoutJustPackage = &Error{Code: CodeCantCheckoutJustPackage, Text: "A PACKAGE component must be specified."}
)

// codeTable maps each code to its lmerrors.h symbol and exact text.
var codeTable = map[int]struct{ symbol, text string }{
	CodeNoConfFile:              {"LM_NOCONFFILE", "Cannot find license file."},
	CodeBadFile:                 {"LM_BADFILE", "Invalid license file syntax."},
	CodeNoServer:                {"LM_NOSERVER", "No license server system for this feature."},
	CodeMaxUsers:                {"LM_MAXUSERS", "Licensed number of users already reached."},
	CodeNoFeature:               {"LM_NOFEATURE", "No such feature exists."},
	CodeNoService:               {"LM_NOSERVICE", "No port number in license file and \"FLEXnet\" service does not exist."},
	CodeNoSocket:                {"LM_NOSOCKET", "No socket connection to license server manager."},
	CodeBadCode:                 {"LM_BADCODE", "Invalid (inconsistent) license key."},
	CodeNotThisHost:             {"LM_NOTTHISHOST", "Invalid host."},
	CodeLongGone:                {"LM_LONGGONE", "Feature has expired."},
	CodeBadDate:                 {"LM_BADDATE", "Invalid date format in license file."},
	CodeBadComm:                 {"LM_BADCOMM", "Invalid returned data from license server system."},
	CodeNoServerInFile:          {"LM_NO_SERVER_IN_FILE", "No SERVER lines in license file."},
	CodeBadHost:                 {"LM_BADHOST", "Cannot find SERVER hostname in network database."},
	CodeCantConnect:             {"LM_CANTCONNECT", "Cannot connect to license server system."},
	CodeCantRead:                {"LM_CANTREAD", "Cannot read data from license server system."},
	CodeCantWrite:               {"LM_CANTWRITE", "Cannot write data to license server system."},
	CodeNoServSupp:              {"LM_NOSERVSUPP", "License server system does not support this feature."},
	CodeServBusy:                {"LM_SERVBUSY", "License server system busy (no majority)."},
	CodeOldVer:                  {"LM_OLDVER", "License file does not support this version."},
	CodeBusyNewServ:             {"LM_BUSYNEWSERV", "License server system temporarily busy (new server connecting)."},
	CodeUsersQueued:             {"LM_USERSQUEUED", "Users are queued for this feature."},
	CodeServLongGone:            {"LM_SERVLONGGONE", "License server system does not support this version of this feature."},
	CodeTooMany:                 {"LM_TOOMANY", "Request for more licenses than this feature supports."},
	CodeTooEarly:                {"LM_TOOEARLY", "Feature start date is in the future."},
	CodeClockBad:                {"LM_CLOCKBAD", "Clock difference too large between client and license server system."},
	CodeFeatQueue:               {"LM_FEATQUEUE", "In the queue for this feature."},
	CodeBadFeatParam:            {"LM_BADFEATPARAM", "Duplicate selection mismatch for this feature."},
	CodeFeatExclude:             {"LM_FEATEXCLUDE", "User/host on EXCLUDE list for feature."},
	CodeFeatNotInclude:          {"LM_FEATNOTINCLUDE", "User/host not on INCLUDE list for feature."},
	CodeNeverCheckout:           {"LM_NEVERCHECKOUT", "Feature was never checked out."},
	CodeNoServResp:              {"LM_NOSERVRESP", "Vendor daemon did not respond within timeout interval."},
	CodeNotLicAdmin:             {"LM_NOTLICADMIN", "You are not a license administrator."},
	CodeRemoveTooSoon:           {"LM_REMOVETOOSOON", "lmremove request before the minimum lmremove interval."},
	CodeNoneToBorrow:            {"LM_NONETOBORROW", "No licenses available to borrow."},
	CodeBadPkg:                  {"LM_BADPKG", "Invalid PACKAGE line in license file."},
	CodeServOldVer:              {"LM_SERVOLDVER", "Version of vendor daemon is too old."},
	CodeUserBased:               {"LM_USERBASED", "USER_BASED license has no specified users -- see license server system log."},
	CodeMaxLimit:                {"LM_MAXLIMIT", "Checkout exceeds MAX specified in options file."},
	CodeBadSysDate:              {"LM_BADSYSDATE", "System clock has been set back."},
	CodeFutureFile:              {"LM_FUTURE_FILE", "Future license file format or misspelling in license file."},
	CodeServerRemoved:           {"LM_SERVER_REMOVED", "Feature removed during lmreread, or wrong SERVER line hostid."},
	CodeThisHostNetFailed:       {"LM_NOT_THIS_HOST", "Network connect to THIS_HOST failed."},
	CodeHostDown:                {"LM_HOSTDOWN", "License server machine is down or not responding."},
	CodeVendorDown:              {"LM_VENDOR_DOWN", "The desired vendor daemon is down."},
	CodeRemoveLinger:            {"LM_REMOVE_LINGER", "Cannot remove a linger license."},
	CodeResvForOthers:           {"LM_RESVFOROTHERS", "All licenses are reserved for others."},
	CodeBorrowTooLong:           {"LM_BORROW_TOOLONG", "Cannot borrow that long."},
	CodeServerMaxedOut:          {"LM_SERVER_MAXED_OUT", "License server system is out of network connections."},
	CodeSignReq:                 {"LM_SIGN_REQ", "SIGN= keyword required but missing from the license certificate."},
	CodeMustBeLocal:             {"LM_MUST_BE_LOCAL", "lmdown/lmreread must be run on the license server machine."},
	CodeBorrowDown:              {"LM_BORROW_DOWN", "Cannot lmdown the server when licenses are borrowed."},
	CodeCantCheckoutJustPackage: {"LM_CANT_CHECKOUT_JUST_PACKAGE", "A PACKAGE component must be specified."},
}

// Package options reads a FlexLM vendor-daemon options file (flexlm.md §6)
// and answers the policy questions a license pool asks of it: may this
// requester use or borrow this feature, which licenses are reserved and for
// whom, what MAX caps apply, and the per-feature TIMEOUT, LINGER,
// MAX_OVERDRAFT, BORROW_LOWWATER and MAX_BORROW_HOURS settings.
//
// # Model
//
// Parse turns the file into Options: every good line as a Line, in file
// order, plus every Problem found. A bad line (a bad number, a missing
// argument, an unknown type, an unterminated quote) is an Error for that line
// only and is left out; the rest of the file applies, so a site's file is
// rejected line by line with reasons. Unknown keywords (FlexLM's
// AUTOMATIC_REREAD, FQDN_MATCHING, ACTIVATION_*, misspellings) are Warnings
// and are kept as KeywordUnknown lines so that String prints them back. Each
// Problem names the file and the first physical line of its logical line.
// Hostile input costs bounded memory: see MaxLineBytes, MaxFileBytes,
// MaxLines and MaxProblems.
//
// Lexical rules, where the FlexLM documents are silent, follow package
// licfile: a backslash (blanks after it tolerated) continues a line and the
// pieces are joined with one space; '#' lines are comments, also inside a
// continuation, which goes on after them; a blank line ends a logical line;
// an unquoted field starting with '#' starts a trailing comment; double
// quotes group blanks into one field anywhere in it, so both
// f1:VENDOR_STRING="a b" and "f1:VENDOR_STRING=a b" work; keywords, types,
// ON/OFF and NOLOG kinds ignore case.
//
// Options.String is the canonical text of what was parsed: one line per
// Line, quoted where needed; parsing it again yields the same Lines.
//
// The queries are pure functions of the parsed file: no clock, no I/O, no
// pool state. A nil *Options is a daemon without an options file: everyone
// may use and borrow everything and no limit applies.
//
// # Matching
//
// A feature spec "name[:KEY=value]" applies to a FeatureRef (one license
// line or pool) with that exact, case-sensitive name and, when a KEY is
// given, an attribute KEY (upper case) equal to value. VERSION compares as a
// decimal number (2 = 2.0) and HOSTID ignores case; other values compare
// exactly. A spec with a KEY therefore only selects some pools of a feature:
// "INCLUDE f1:VERSION=2.0 USER jan" makes an INCLUDE list for the 2.0 pool and
// leaves the other pools of f1 open to all.
//
// Type specs: USER and DISPLAY and PROJECT (the client's LM_PROJECT) compare
// exactly; HOST compares ignoring case (DNS names); INTERNET is an IPv4
// pattern with "*" for any octet ("192.168.*.*"); GROUP and HOST_GROUP match
// members of every GROUP or HOST_GROUP line of that (case-sensitive) name.
// GROUPCASEINSENSITIVE ON, which FlexLM documents as making group member
// matching case-insensitive, applies here to GROUP members and to USER names
// alike; it is a file-wide switch (the last line wins, wherever it stands).
// Host group members always compare ignoring case. A GROUP or HOST_GROUP that
// no line defines draws a Warning and matches nobody, as in FlexLM.
//
// # Precedence
//
// Allowed follows flexlm.md §6: EXCLUDE and EXCLUDEALL are checked first, and
// a requester on them gets -38 (LM_FEATEXCLUDE); then, if any INCLUDE or
// INCLUDEALL line applies to the feature, a requester on none of them gets
// -39 (LM_FEATNOTINCLUDE); with neither list everyone may. BorrowAllowed does
// the same with EXCLUDE_BORROW and INCLUDE_BORROW and the same codes.
//
// Where several lines set one value for a feature (TIMEOUT, LINGER,
// MAX_OVERDRAFT, BORROW_LOWWATER, MAX_BORROW_HOURS), the last line that
// applies wins; TIMEOUTALL is the fallback of TIMEOUT. REPORTLOG, DEBUGLOG and
// GROUPCASEINSENSITIVE: the last line wins. MAX: every MAX line that applies
// is a cap and the smallest binds (Max); a MAX on a GROUP, HOST_GROUP or
// INTERNET pattern caps the total use of everyone it matches, so a pool
// counting use per line wants Limits and Matches.
//
// TIMEOUT values below MinTimeout (900 s, Flexera's usual publisher minimum)
// are raised to it by Timeout and draw a Warning at parse time.
//
// # Files
//
// types.go holds the data types; lex.go reads physical lines within the
// limits and joins continuations; parse.go turns logical lines into Lines;
// print.go writes the canonical text; match.go matches feature and type
// specs; query.go answers the pool's questions; ref.go builds a FeatureRef
// from a licfile.Feature.
package options

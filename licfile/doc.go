// Package licfile reads, checks and writes FlexLM license files, and parses
// license search paths (LM_LICENSE_FILE, <VENDOR>_LICENSE_FILE, lmgrd -c).
//
// Parse is tolerant where real files are sloppy (a backslash followed by
// blanks still continues a line, CRLF, tabs, lower-case port=, the old DAEMON
// keyword, a bare hex key in place of SIGN=) and strict where FlexLM itself
// fails late or badly: every error names the file and the first physical line
// of the logical line, and a triad whose SERVER lines lack a port is refused
// up front instead of crashing the server.
//
// Pools applies FlexLM's counting rules (first FEATURE wins, INCREMENTs add
// up, UPGRADE moves licenses, SUPERSEDE retires older lines) to the lines of
// one or more files. The package does no I/O except in ParseFile, Load and
// ExpandDir, and never reads the clock: callers pass the time in.
package licfile

package wire

// Product version of lmgrd, vendord and lmutil. lmstat prints the short form
// after "license server UP" and "vendor: UP", as FlexLM prints v11.19.
const (
	Version      = "v0.1.0"
	VersionShort = "v0.1"
	Build        = "1"
	Platform     = "x64_lsb"
)

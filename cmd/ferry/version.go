package main

import "runtime/debug"

// Set at link time by the Makefile (-ldflags "-X main.buildVersion=…
// -X main.buildCommit=…"); empty in a plain go build or go install, which
// fall back to what the Go toolchain stamped into the binary.
var (
	buildVersion string
	buildCommit  string
)

// version is the version the Makefile stamped, else the module version
// (go install …@v1.2.3), else "dev".
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// commit is the commit the Makefile stamped, else the VCS revision the Go
// toolchain stamped (with "-dirty" for a modified tree), else "".
func commit() string {
	if buildCommit != "" {
		return buildCommit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

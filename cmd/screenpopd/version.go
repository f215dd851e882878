package main

import (
	"fmt"
	"runtime/debug"
)

// version says which build this is, from what the Go toolchain stamped
// into the binary: the module version (v1.2.3 when installed with go
// install ...@v1.2.3, or the one the package build sets with -X
// main.releaseVersion), the commit and whether the tree had uncommitted
// changes.
func version() string {
	v, commit, when, dirty := releaseVersion, releaseCommit, "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	out := "screenpopd " + v
	if commit != "" {
		if dirty {
			commit += "-dirty"
		}
		out += fmt.Sprintf(" (commit %s", commit)
		if when != "" {
			out += ", " + when
		}
		out += ")"
	}
	return out
}

// releaseVersion and releaseCommit are set by the package build (-ldflags
// "-X main.releaseVersion=... -X main.releaseCommit=..."): the Go
// toolchain stamps a module version only into go install ...@version, and
// the commit only where it can run git (not with -buildvcs=false).
var releaseVersion, releaseCommit string

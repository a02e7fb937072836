package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

const pocketBaseModule = "github.com/pocketbase/pocketbase"

// version is what `pocketguest --version` prints: the module version, the
// PocketBase it embeds and the commit it was built from, all read from the
// build information the Go toolchain stamps into every binary (so a release
// needs no -ldflags -X to report itself correctly).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "pocketguest (no build information)\n"
	}
	return formatVersion(info)
}

func formatVersion(info *debug.BuildInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pocketguest %s\n", orUnknown(info.Main.Version))
	fmt.Fprintf(&b, "PocketBase %s\n", orUnknown(pocketBaseVersion(info)))

	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "commit %s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(" with uncommitted changes")
		}
		b.WriteString("\n")
	} else {
		b.WriteString("commit unknown (built without VCS information)\n")
	}

	goVersion := info.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, goos, goarch)
	return b.String()
}

// pocketBaseVersion is the version of the PocketBase module linked in
// (following a replace directive, as the build did).
func pocketBaseVersion(info *debug.BuildInfo) string {
	for _, dep := range info.Deps {
		if dep.Path != pocketBaseModule {
			continue
		}
		if r := dep.Replace; r != nil {
			v := r.Version
			if v == "" { // a local directory has no version of its own
				v = dep.Version
			}
			return v + " (replaced by " + r.Path + ")"
		}
		return dep.Version
	}
	return ""
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown)"
	}
	return v
}

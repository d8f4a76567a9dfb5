// Package facts defines the JSON the probe prints, so that the probe
// (inside a container) and the integration tests (outside) agree on one
// schema instead of keeping two copies in step by hand.
package facts

// Facts is what `probe json` prints: the process's view of itself.
type Facts struct {
	Pid        int               `json:"pid"`
	Ppid       int               `json:"ppid"`
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
	EUID       int               `json:"euid"`
	EGID       int               `json:"egid"`
	Groups     []int             `json:"groups"`
	Hostname   string            `json:"hostname"`
	Domainname string            `json:"domainname"`
	Cwd        string            `json:"cwd"`
	Umask      string            `json:"umask"` // octal, e.g. "0022"
	Namespaces map[string]string `json:"namespaces"`
	// Caps holds the CapInh/CapPrm/CapEff/CapBnd/CapAmb lines of
	// /proc/self/status, keyed by the line name, as hex strings.
	Caps       map[string]string `json:"caps"`
	NoNewPrivs int               `json:"no_new_privs"`
	Seccomp    int               `json:"seccomp"`
	// Rlimits are the probe's own limits. RLIMIT_NOFILE's soft limit
	// is not the inherited one: the Go runtime raises it at start.
	Rlimits     map[string]Rlimit `json:"rlimits"`
	Fds         []FD              `json:"fds"`
	Mounts      []Mount           `json:"mounts"`
	OOMScoreAdj int               `json:"oom_score_adj"`
	Dumpable    int               `json:"dumpable"`
	Env         []string          `json:"env"`
	Args        []string          `json:"args"`
	// SessionKeyring describes the session keyring (KEYCTL_DESCRIBE:
	// "type;uid;gid;perm;description").
	SessionKeyring string `json:"session_keyring"`
	// Dev lists the entries of /dev (not recursive).
	Dev []Stat `json:"dev"`
	// Errors collects what the probe could not read, so a test failure
	// shows why a field is empty instead of guessing.
	Errors []string `json:"errors,omitempty"`
}

// Rlimit is one resource limit; RLIM_INFINITY is 18446744073709551615.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// FD is one open file descriptor and what /proc/self/fd says it is.
type FD struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

// Mount is one line of /proc/self/mountinfo, unescaped.
type Mount struct {
	ID           int      `json:"id"`
	Parent       int      `json:"parent"`
	MajorMinor   string   `json:"major_minor"`
	Root         string   `json:"root"`
	MountPoint   string   `json:"mount_point"`
	Options      []string `json:"options"`
	Optional     []string `json:"optional"` // shared:N, master:N, propagate_from:N, unbindable
	FSType       string   `json:"fstype"`
	Source       string   `json:"source"`
	SuperOptions []string `json:"super_options"`
}

// Stat is what `probe stat` reports about one path (lstat, so a
// symlink is reported as such with its target).
type Stat struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Errno  string `json:"errno,omitempty"`
	Type   string `json:"type,omitempty"` // file dir symlink char block fifo socket
	Mode   string `json:"mode,omitempty"` // permission bits in octal, with setuid/setgid/sticky
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Major  uint32 `json:"major"`
	Minor  uint32 `json:"minor"`
	Size   int64  `json:"size"`
	Link   string `json:"link,omitempty"`
}

// Result is what `probe write` prints.
type Result struct {
	OK    bool   `json:"ok"`
	Errno string `json:"errno,omitempty"` // e.g. "EROFS"
	Error string `json:"error,omitempty"`
}

// HasOption reports whether the mount's per-mount options include opt.
func (m Mount) HasOption(opt string) bool { return contains(m.Options, opt) }

// HasSuperOption reports whether the superblock options include opt.
func (m Mount) HasSuperOption(opt string) bool { return contains(m.SuperOptions, opt) }

// Propagation returns the optional field starting with prefix
// ("shared:", "master:"), or "".
func (m Mount) Propagation(prefix string) string {
	for _, o := range m.Optional {
		if len(o) >= len(prefix) && o[:len(prefix)] == prefix {
			return o
		}
	}
	return ""
}

// MountAt returns the last (topmost) mount at point, if any.
func (f *Facts) MountAt(point string) (Mount, bool) {
	var found Mount
	ok := false
	for _, m := range f.Mounts {
		if m.MountPoint == point {
			found, ok = m, true
		}
	}
	return found, ok
}

// DevEntry returns the /dev entry named name ("null", "ptmx").
func (f *Facts) DevEntry(name string) (Stat, bool) {
	for _, s := range f.Dev {
		if s.Path == "/dev/"+name {
			return s, true
		}
	}
	return Stat{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

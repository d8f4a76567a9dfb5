package specconv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// Options are the command-line settings that shape the conversion.
type Options struct {
	NoPivotRoot  bool
	NoNewKeyring bool
	Rootless     bool // skiff itself runs with euid != 0
}

// ToConfig validates spec and converts it into a configs.Config. bundle
// is the bundle directory: a relative root.path and relative bind mount
// sources are resolved against it. Apart from checking that the rootfs
// is a directory (and, for net.* sysctls in a joined network namespace,
// comparing it with the host's), it makes no system calls, so it can run
// before anything is created.
func ToConfig(spec *specs.Spec, bundle string, opts Options) (*configs.Config, error) {
	if spec == nil {
		return nil, errors.New("config.json: empty spec")
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	c := &configs.Config{
		OCIVersion:   spec.Version,
		Hostname:     spec.Hostname,
		Domainname:   spec.Domainname,
		NoPivotRoot:  opts.NoPivotRoot,
		NoNewKeyring: opts.NoNewKeyring,
		Rootless:     opts.Rootless,
		Hooks:        spec.Hooks,
		Annotations:  spec.Annotations,
		Spec:         spec,
	}
	steps := []func(*specs.Spec, *configs.Config) error{
		checkVersion,
		convertProcess,
		convertHooks,
	}
	for _, step := range steps {
		if err := step(spec, c); err != nil {
			return nil, err
		}
	}
	if err := convertLinux(spec, c); err != nil {
		return nil, err
	}
	if err := convertMounts(spec, bundle, c); err != nil {
		return nil, err
	}
	if err := checkUTS(spec, c); err != nil {
		return nil, err
	}
	if opts.Rootless {
		if err := checkRootless(c); err != nil {
			return nil, err
		}
	}
	// The rootfs is checked last: it is the only step that touches the
	// file system, and a config error is more useful to report first.
	if err := convertRoot(spec, bundle, c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkVersion accepts any 1.x.y release or pre-release: the spec keeps
// backward and forward compatibility within a major version.
func checkVersion(spec *specs.Spec, _ *configs.Config) error {
	v := spec.Version
	if v == "" {
		return fieldErr("ociVersion", "missing")
	}
	core := v
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fieldErr("ociVersion", "%q is not a semantic version (MAJOR.MINOR.PATCH)", v)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return fieldErr("ociVersion", "%q is not a semantic version (MAJOR.MINOR.PATCH)", v)
		}
	}
	if parts[0] != "1" {
		return fieldErr("ociVersion", "unsupported major version %q", v)
	}
	return nil
}

func convertRoot(spec *specs.Spec, bundle string, c *configs.Config) error {
	if spec.Root == nil {
		return fieldErr("root", "missing")
	}
	path := spec.Root.Path
	if path == "" {
		return fieldErr("root.path", "must not be empty")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return fieldErr("root.path", "contains a NUL byte")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	path = filepath.Clean(path)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fieldErr("root.path", "%q does not exist", path)
	case err != nil:
		return fieldErr("root.path", "%v", err)
	case !fi.IsDir():
		return fieldErr("root.path", "%q is not a directory", path)
	}
	c.Rootfs = path
	c.RootReadonly = spec.Root.Readonly
	return nil
}

func convertProcess(spec *specs.Spec, c *configs.Config) error {
	p := spec.Process
	if p == nil {
		return fieldErr("process", "missing")
	}
	if len(p.Args) == 0 {
		return fieldErr("process.args", "must not be empty")
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fieldErr(fmt.Sprintf("process.args[%d]", i), "contains a NUL byte")
		}
	}
	if p.Args[0] == "" {
		return fieldErr("process.args[0]", "must not be empty")
	}
	for i, kv := range p.Env {
		f := fmt.Sprintf("process.env[%d]", i)
		name, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return fieldErr(f, "%q is missing '='", kv)
		case name == "":
			return fieldErr(f, "%q has an empty name", kv)
		case strings.IndexByte(kv, 0) >= 0:
			return fieldErr(f, "contains a NUL byte")
		}
	}
	if !filepath.IsAbs(p.Cwd) {
		return fieldErr("process.cwd", "must be an absolute path, got %q", p.Cwd)
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fieldErr("process.oomScoreAdj", "%d is out of range [-1000, 1000]", *p.OOMScoreAdj)
	}
	rlimits, err := convertRlimits(p.Rlimits)
	if err != nil {
		return err
	}
	cp := configs.Process{
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             filepath.Clean(p.Cwd),
		UID:             p.User.UID,
		GID:             p.User.GID,
		AdditionalGids:  p.User.AdditionalGids,
		Umask:           p.User.Umask,
		Rlimits:         rlimits,
		NoNewPrivileges: p.NoNewPrivileges,
		Terminal:        p.Terminal,
		OOMScoreAdj:     p.OOMScoreAdj,
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
		Spec:            p,
	}
	if p.ConsoleSize != nil {
		cp.ConsoleWidth = p.ConsoleSize.Width
		cp.ConsoleHeight = p.ConsoleSize.Height
	}
	// Names are copied verbatim: checking them against the kernel's list
	// belongs to the capability code, which knows what the host supports.
	if caps := p.Capabilities; caps != nil {
		cp.Capabilities = &configs.Capabilities{
			Bounding:    caps.Bounding,
			Effective:   caps.Effective,
			Permitted:   caps.Permitted,
			Inheritable: caps.Inheritable,
			Ambient:     caps.Ambient,
		}
	}
	c.Process = cp
	return nil
}

// rlimitType maps config.json's rlimit names to setrlimit resource
// numbers.
func rlimitType(name string) (int, bool) {
	switch name {
	case "RLIMIT_AS":
		return unix.RLIMIT_AS, true
	case "RLIMIT_CORE":
		return unix.RLIMIT_CORE, true
	case "RLIMIT_CPU":
		return unix.RLIMIT_CPU, true
	case "RLIMIT_DATA":
		return unix.RLIMIT_DATA, true
	case "RLIMIT_FSIZE":
		return unix.RLIMIT_FSIZE, true
	case "RLIMIT_LOCKS":
		return unix.RLIMIT_LOCKS, true
	case "RLIMIT_MEMLOCK":
		return unix.RLIMIT_MEMLOCK, true
	case "RLIMIT_MSGQUEUE":
		return unix.RLIMIT_MSGQUEUE, true
	case "RLIMIT_NICE":
		return unix.RLIMIT_NICE, true
	case "RLIMIT_NOFILE":
		return unix.RLIMIT_NOFILE, true
	case "RLIMIT_NPROC":
		return unix.RLIMIT_NPROC, true
	case "RLIMIT_RSS":
		return unix.RLIMIT_RSS, true
	case "RLIMIT_RTPRIO":
		return unix.RLIMIT_RTPRIO, true
	case "RLIMIT_RTTIME":
		return unix.RLIMIT_RTTIME, true
	case "RLIMIT_SIGPENDING":
		return unix.RLIMIT_SIGPENDING, true
	case "RLIMIT_STACK":
		return unix.RLIMIT_STACK, true
	}
	return 0, false
}

func convertRlimits(in []specs.POSIXRlimit) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	seen := make(map[string]bool, len(in))
	for i, r := range in {
		f := fmt.Sprintf("process.rlimits[%d]", i)
		t, ok := rlimitType(r.Type)
		if !ok {
			return nil, fieldErr(f+".type", "unknown rlimit %q", r.Type)
		}
		if seen[r.Type] {
			return nil, fieldErr(f+".type", "rlimit %q given twice", r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return nil, fieldErr(f+".soft", "%d is above the hard limit %d", r.Soft, r.Hard)
		}
		out = append(out, configs.Rlimit{Type: t, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}

func convertHooks(spec *specs.Spec, _ *configs.Config) error {
	h := spec.Hooks
	if h == nil {
		return nil
	}
	lists := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // still honoured, as runc does
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	}
	for _, l := range lists {
		for i, hook := range l.hooks {
			f := fmt.Sprintf("hooks.%s[%d]", l.name, i)
			if !filepath.IsAbs(hook.Path) {
				return fieldErr(f+".path", "%q is not absolute", hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fieldErr(f+".timeout", "must be greater than zero, got %d", *hook.Timeout)
			}
		}
	}
	return nil
}

func checkUTS(spec *specs.Spec, c *configs.Config) error {
	if c.HasNamespace(configs.NEWUTS) {
		return nil
	}
	if spec.Hostname != "" {
		return fieldErr("hostname", "needs a uts namespace")
	}
	if spec.Domainname != "" {
		return fieldErr("domainname", "needs a uts namespace")
	}
	return nil
}

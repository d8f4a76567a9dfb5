package libcontainer

import (
	"strconv"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// addListenFDsEnv tells the container's process about n socket-activation
// fds (systemd's LISTEN_FDS protocol) that skiff passes on as fds 3..: as
// runc does, LISTEN_FDS is the count and LISTEN_PID is 1, the pid the
// process has in its own pid namespace (runc writes 1 even without one;
// so does skiff, to be a drop-in replacement). LISTEN_FDNAMES is not
// passed, as runc does not pass it. Only the container's init gets
// them: exec starts from the spec's process, without these.
func addListenFDsEnv(p *configs.Process, n int) {
	if n <= 0 {
		return
	}
	env := make([]string, 0, len(p.Env)+2)
	for _, kv := range p.Env {
		// The config's own values would contradict the fds passed.
		if hasKey(kv, "LISTEN_FDS") || hasKey(kv, "LISTEN_PID") {
			continue
		}
		env = append(env, kv)
	}
	p.Env = append(env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
}

func hasKey(kv, key string) bool {
	return len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '='
}

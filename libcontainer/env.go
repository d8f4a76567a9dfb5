package libcontainer

import (
	"os"
	"strings"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// processEnv is the environment the container's process gets, as runc
// makes it: a variable set twice keeps its last value (so `exec --env`
// overrides the container's), and HOME, if unset, is the user's home in
// the container's /etc/passwd ("/" when there is none).
func processEnv(env []string, root string, uid uint32) []string {
	last := make(map[string]int, len(env))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	out := make([]string, 0, len(env)+1)
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	if _, ok := last["HOME"]; !ok {
		out = append(out, "HOME="+homeDir(root, uid))
	}
	return out
}

// homeDir reads the container's /etc/passwd through its root, never
// following a path out of it.
func homeDir(root string, uid uint32) string {
	dir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/"
	}
	defer dir.Close()
	f, err := openInRoot(dir, "etc/passwd", unix.O_RDONLY)
	if err != nil {
		return "/"
	}
	defer f.Close()
	users, err := user.ParsePasswdFilter(f, func(u user.User) bool { return u.Uid == int(uid) })
	if err != nil || len(users) == 0 || users[0].Home == "" {
		return "/"
	}
	return users[0].Home
}

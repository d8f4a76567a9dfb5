package libcontainer

import (
	"fmt"
	"testing"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

func TestAddListenFDsEnv(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		n    int
		want string
	}{
		{[]string{"PATH=/bin"}, 0, "[PATH=/bin]"},
		{[]string{"PATH=/bin"}, -1, "[PATH=/bin]"},
		{[]string{"PATH=/bin"}, 2, "[PATH=/bin LISTEN_FDS=2 LISTEN_PID=1]"},
		// The config's own values would contradict the fds passed; a
		// name that only starts the same is kept.
		{[]string{"LISTEN_FDS=9", "A=1", "LISTEN_PID=7", "LISTEN_FDSX=1"}, 1, "[A=1 LISTEN_FDSX=1 LISTEN_FDS=1 LISTEN_PID=1]"},
	} {
		p := &configs.Process{Env: append([]string(nil), tc.env...)}
		addListenFDsEnv(p, tc.n)
		if got := fmt.Sprint(p.Env); got != tc.want {
			t.Errorf("env %v with %d fds: got %s, want %s", tc.env, tc.n, got, tc.want)
		}
	}
}

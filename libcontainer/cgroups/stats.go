package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// Stats is what `skiff events` reports about a cgroup: the library's
// counters, plus what it does not read itself.
type Stats struct {
	cgroups.Stats
	// MemoryEvents is memory.events of a v2 memory cgroup (low, high,
	// max, oom, oom_kill, ...); nil on v1, which has no such file.
	MemoryEvents map[string]uint64
}

func (m *manager) Stats() (*Stats, error) {
	if m.err != nil {
		return nil, m.err
	}
	s, err := m.lib.GetStats()
	if err != nil {
		return nil, fmt.Errorf("cgroup stats: %w", err)
	}
	out := &Stats{Stats: *s}
	if dir := v2MemoryDir(m.lib.GetPaths()); dir != "" {
		ev, err := readKeyValues(filepath.Join(dir, "memory.events"))
		if err != nil {
			return nil, fmt.Errorf("cgroup stats: %w", err)
		}
		out.MemoryEvents = ev
	}
	return out, nil
}

// v2MemoryDir is the cgroup directory whose memory controller is a v2
// one, or "" if memory is accounted in a v1 hierarchy (or nowhere). On
// a hybrid host the unified directory exists but has no memory.events.
func v2MemoryDir(paths map[string]string) string {
	if paths["memory"] != "" {
		return ""
	}
	dir := paths[""]
	if dir == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.events")); err != nil {
		return ""
	}
	return dir
}

// readKeyValues parses a flat keyed cgroup file ("key value" lines).
func readKeyValues(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		out[key] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": empty")
	}
	return out, nil
}

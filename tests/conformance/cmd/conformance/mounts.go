package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

type mountEntry struct {
	ID      int
	Root    string // root of the mount within its filesystem
	Point   string
	FSType  string
	Options string // per-superblock options (for cgroup v1: the controllers)
}

// unescapeMountinfo undoes the kernel's octal escaping of space, tab,
// newline and backslash in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readMountinfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		sep := strings.Index(line, " - ")
		if sep < 0 {
			return nil, fmt.Errorf("mountinfo line without separator: %q", line)
		}
		pre := strings.Fields(line[:sep])
		post := strings.Fields(line[sep+3:])
		if len(pre) < 5 || len(post) < 2 {
			return nil, fmt.Errorf("short mountinfo line: %q", line)
		}
		id, err := strconv.Atoi(pre[0])
		if err != nil {
			return nil, fmt.Errorf("mountinfo id in %q: %w", line, err)
		}
		e := mountEntry{ID: id, Root: unescapeMountinfo(pre[3]), Point: unescapeMountinfo(pre[4]), FSType: post[0]}
		if len(post) >= 3 {
			e.Options = post[2]
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// isUnder reports whether p is dir itself or inside it.
func isUnder(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// unmountUnder removes every mount at or below dir, deepest first and,
// at the same depth, newest first so stacked mounts come off in order.
// A mount that refuses a normal unmount is detached lazily.
func unmountUnder(dir string) (int, error) {
	count := 0
	for pass := 0; pass < 8; pass++ {
		all, err := readMountinfo()
		if err != nil {
			return count, err
		}
		var todo []mountEntry
		for _, m := range all {
			if isUnder(m.Point, dir) {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return count, nil
		}
		sort.Slice(todo, func(i, j int) bool {
			di, dj := strings.Count(todo[i].Point, "/"), strings.Count(todo[j].Point, "/")
			if di != dj {
				return di > dj
			}
			return todo[i].ID > todo[j].ID
		})
		for _, m := range todo {
			if err := syscall.Unmount(m.Point, 0); err != nil {
				if err := syscall.Unmount(m.Point, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
					return count, fmt.Errorf("unmount %s: %w", m.Point, err)
				}
			}
			count++
		}
	}
	return count, fmt.Errorf("mounts remain under %s after repeated unmounting", dir)
}

// removeTreeSameFS deletes path like os.RemoveAll but never crosses a
// mount: the suite leaves mounts under TMPDIR, and a recursive delete
// through a leftover bind mount would destroy its source. A bind mount of
// the same filesystem keeps st_dev, so mountinfo is the primary guard and
// the device check only catches mounts that appear while deleting.
func removeTreeSameFS(path string) error {
	mounts, err := readMountinfo()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if isUnder(m.Point, path) {
			return fmt.Errorf("%s is still mounted; not removing %s", m.Point, path)
		}
	}
	st, err := os.Lstat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	dev := st.Sys().(*syscall.Stat_t).Dev
	return removeOnDev(path, dev)
}

func removeOnDev(path string, dev uint64) error {
	st, err := os.Lstat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if st.Sys().(*syscall.Stat_t).Dev != dev {
		return fmt.Errorf("%s is on another filesystem (a leftover mount?); not removing it", path)
	}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		var firstErr error
		for _, e := range entries {
			if err := removeOnDev(filepath.Join(path, e.Name()), dev); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return firstErr
		}
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// clearDir empties dir (keeping dir itself) without crossing mounts.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var firstErr error
	for _, e := range entries {
		if err := removeTreeSameFS(filepath.Join(dir, e.Name())); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

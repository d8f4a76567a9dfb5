package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/sysfile"
)

// Status works out the container's status from the system, not from
// what was saved: the init's PID must still name the same process (same
// start time, not a zombie), the freezer tells paused, and exec.fifo
// exists until `skiff start`.
func (s *State) Status(root string) string {
	if !s.InitAlive() {
		return Stopped
	}
	// Frozen first, as runc: a created container can be paused too,
	// and shows "paused" until it is resumed (then "created" again).
	if cgroups.IsFrozen(s.CgroupPaths) {
		return Paused
	}
	if _, err := os.Lstat(filepath.Join(Dir(root, s.ID), ExecFifo)); err == nil {
		return Created
	}
	return Running
}

// InitAlive reports whether the container's init process still runs: a
// live process with the recorded PID and start time.
func (s *State) InitAlive() bool {
	if s.InitPID <= 0 {
		return false
	}
	st, err := readStat(s.InitPID)
	if err != nil {
		return false
	}
	return st.startTime == s.InitStartTime && st.state != 'Z' && st.state != 'X'
}

// StartTime returns the start time of process pid (field 22 of
// /proc/PID/stat, in clock ticks since boot), which with the PID
// identifies a process across PID reuse.
func StartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.startTime, nil
}

type procStat struct {
	state     byte
	startTime uint64
}

func readStat(pid int) (procStat, error) {
	var ps procStat
	err := sysfile.Use("/proc/"+strconv.Itoa(pid)+"/stat", func(data []byte) (err error) {
		ps, err = parseStat(data)
		return err
	})
	return ps, err
}

// parseStat reads /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc/PID/stat: no ')'")
	}
	// Fields after the name start with field 3, the state; only it and
	// field 22, the start time, are needed (no slice of every field:
	// `list` parses one per container).
	const stateField, startTimeField = 3, 22
	var state, start []byte
	rest := data[i+1:]
	for field := stateField; field <= startTimeField; field++ {
		rest = bytes.TrimLeft(rest, " \t\n")
		end := bytes.IndexAny(rest, " \t\n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return procStat{}, errors.New("malformed /proc/PID/stat: too few fields")
		}
		switch field {
		case stateField:
			state = rest[:end]
		case startTimeField:
			start = rest[:end]
		}
		rest = rest[end:]
	}
	if len(state) != 1 {
		return procStat{}, errors.New("malformed /proc/PID/stat: state is not one character")
	}
	startTime, err := strconv.ParseUint(string(start), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc/PID/stat start time: %w", err)
	}
	return procStat{state: state[0], startTime: startTime}, nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
)

const resourcesUsage = `path to the file containing the resources to update or '-' to read from the standard input

The accepted format is as follow (unchanged values can be omitted):

{
  "memory": {
    "limit": 0,
    "reservation": 0,
    "swap": 0
  },
  "cpu": {
    "shares": 0,
    "quota": 0,
    "period": 0,
    "realtimeRuntime": 0,
    "realtimePeriod": 0,
    "cpus": "",
    "mems": ""
  },
  "blockIO": {
    "weight": 0
  }
}

Note: if data is to be read from a file or the standard input, all
other options are ignored.`

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "update container resource constraints",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: resourcesUsage},
		&cli.IntFlag{Name: "blkio-weight", Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight vs. other containers)"},
		// The plural is how the config.json field and docker spell it.
		&cli.StringFlag{Name: "cpu-shares", Hidden: true},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "(obsoleted; do not use)", Hidden: true},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "(obsoleted; do not use)", Hidden: true},
		&cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "Memory reservation or soft_limit (in bytes)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
		&cli.IntFlag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "The string of Intel RDT/CAT L3 cache schema"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "The string of Intel RDT/MBA memory bandwidth schema"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		// runc reports a missing container before any bad flag value.
		st, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		opts := libcontainer.UpdateOptions{
			L3CacheSchema: ctx.String("l3-cache-schema"),
			MemBwSchema:   ctx.String("mem-bw-schema"),
		}
		fromFile := ctx.String("resources") != ""
		if fromFile {
			opts.Resources, err = readResources(ctx.String("resources"))
		} else {
			opts.Resources, err = resourcesFromFlags(ctx)
		}
		if err != nil {
			return err
		}
		err = libcontainer.Update(stateRoot(ctx), st.ID, opts)
		var unsupported *cgroups.UnsupportedError
		if !fromFile && errors.As(err, &unsupported) {
			// Name the flag the user gave, not the config.json field.
			if flag, ok := flagOfField[unsupported.Field]; ok {
				return fmt.Errorf("--%s: %s", flag, unsupported.Reason)
			}
		}
		return err
	},
}

// flagOfField maps linux.resources fields to the update flags that set
// them.
var flagOfField = map[string]string{
	"memory.limit":        "memory",
	"memory.swap":         "memory-swap",
	"memory.reservation":  "memory-reservation",
	"memory.kernel":       "kernel-memory",
	"memory.kernelTCP":    "kernel-memory-tcp",
	"cpu.shares":          "cpu-share",
	"cpu.quota":           "cpu-quota",
	"cpu.period":          "cpu-period",
	"cpu.burst":           "cpu-burst",
	"cpu.realtimePeriod":  "cpu-rt-period",
	"cpu.realtimeRuntime": "cpu-rt-runtime",
	"cpu.cpus":            "cpuset-cpus",
	"cpu.mems":            "cpuset-mems",
	"pids.limit":          "pids-limit",
	"blockIO.weight":      "blkio-weight",
}

// readResources decodes a LinuxResources JSON document from a file, or
// from stdin for "-".
func readResources(path string) (*specs.LinuxResources, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	r := &specs.LinuxResources{}
	if err := json.NewDecoder(in).Decode(r); err != nil {
		return nil, err
	}
	return r, nil
}

// resourcesFromFlags collects the flags that were given. As in runc, a
// zero --blkio-weight or --pids-limit means "unchanged", and memory
// sizes take units (64m, 1g) or -1 for "no limit".
func resourcesFromFlags(ctx *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	mem := &specs.LinuxMemory{}
	cpu := &specs.LinuxCPU{}
	if v := ctx.Int("blkio-weight"); v != 0 {
		if v < 0 || v > 0xffff {
			return nil, fmt.Errorf("invalid value for blkio-weight: %d is out of range", v)
		}
		w := uint16(v)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	cpu.Cpus = ctx.String("cpuset-cpus")
	cpu.Mems = ctx.String("cpuset-mems")
	if ctx.String("cpu-share") == "" && ctx.String("cpu-shares") != "" {
		if err := ctx.Set("cpu-share", ctx.String("cpu-shares")); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		dst  **uint64
	}{
		{"cpu-burst", &cpu.Burst},
		{"cpu-period", &cpu.Period},
		{"cpu-rt-period", &cpu.RealtimePeriod},
		{"cpu-share", &cpu.Shares},
	} {
		if s := ctx.String(f.name); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %w", f.name, err)
			}
			*f.dst = &v
		}
	}
	for _, f := range []struct {
		name string
		dst  **int64
	}{
		{"cpu-quota", &cpu.Quota},
		{"cpu-rt-runtime", &cpu.RealtimeRuntime},
	} {
		if s := ctx.String(f.name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %w", f.name, err)
			}
			*f.dst = &v
		}
	}
	for _, f := range []struct {
		name string
		dst  **int64
	}{
		{"memory", &mem.Limit},
		{"memory-swap", &mem.Swap},
		{"memory-reservation", &mem.Reservation},
		{"kernel-memory", &mem.Kernel},
		{"kernel-memory-tcp", &mem.KernelTCP},
	} {
		if s := ctx.String(f.name); s != "" {
			v := int64(-1)
			if s != "-1" {
				var err error
				if v, err = ramInBytes(s); err != nil {
					return nil, fmt.Errorf("invalid value for %s: %w", f.name, err)
				}
			}
			*f.dst = &v
		}
	}
	if v := int64(ctx.Int("pids-limit")); v != 0 {
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if *mem != (specs.LinuxMemory{}) {
		r.Memory = mem
	}
	if cpu.Cpus != "" || cpu.Mems != "" || cpu.Shares != nil || cpu.Quota != nil || cpu.Burst != nil ||
		cpu.Period != nil || cpu.RealtimePeriod != nil || cpu.RealtimeRuntime != nil {
		r.CPU = cpu
	}
	return r, nil
}

var sizeRE *regexp.Regexp

// ramInBytes parses a memory size as docker and runc do: a number,
// optionally followed by k, m, g, t or p (powers of 1024) and an
// optional "i" and "b": "512", "64m", "1.5GiB", "100 kb".
func ramInBytes(s string) (int64, error) {
	if sizeRE == nil {
		sizeRE = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
	}
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size: '%s'", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size: '%s'", s)
	}
	mul := 1.0
	if m[2] != "" {
		mul = float64(int64(1) << (10 * (strings.IndexByte("kmgtp", strings.ToLower(m[2])[0]) + 1)))
	}
	return int64(n * mul), nil
}

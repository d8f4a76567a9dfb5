package facts

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseMountinfo parses the contents of a /proc/PID/mountinfo file; it
// is shared by the probe and the tests' view of the host.
func ParseMountinfo(b []byte) ([]Mount, []error) {
	mounts := []Mount{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		m, err := parseMountinfoLine(sc.Text())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mounts = append(mounts, m)
	}
	return mounts, errs
}

// parseMountinfoLine splits one line of proc(5) mountinfo:
// ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER.
func parseMountinfoLine(line string) (Mount, error) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if len(fields) < 7 || sep < 0 || len(fields) < sep+3 {
		return Mount{}, fmt.Errorf("mountinfo: malformed line %q", line)
	}
	m := Mount{
		MajorMinor: fields[2],
		Root:       unescape(fields[3]),
		MountPoint: unescape(fields[4]),
		Options:    strings.Split(fields[5], ","),
		Optional:   append([]string{}, fields[6:sep]...),
		FSType:     fields[sep+1],
		Source:     unescape(fields[sep+2]),
	}
	m.ID, _ = strconv.Atoi(fields[0])
	m.Parent, _ = strconv.Atoi(fields[1])
	if len(fields) > sep+3 {
		m.SuperOptions = strings.Split(fields[sep+3], ",")
	}
	return m, nil
}

// unescape undoes the kernel's \ooo octal escaping of space, tab,
// newline and backslash in mountinfo paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
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

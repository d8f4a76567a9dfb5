package seccomp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/jsoncodec"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
)

// The compile cache. A container engine gives every container the same
// default profile, and compiling docker's takes milliseconds of libseccomp
// work, so compiled programs are kept in files named by a hash of
// everything that determines them. The files decide what syscalls every
// later container may make, so nothing is trusted that someone other
// than skiff's user could have written: each directory on the way must be
// owned by root or that user and not writable by others (unless sticky),
// the cache directory and files must be private to that user, and each
// file carries its key and a checksum. Any doubt is a miss, never an
// error: the cache only saves time.

// DefaultCacheDir is where compiled filters are cached unless
// SetCacheDir says otherwise. /run is a tmpfs, so the cache is emptied on
// reboot, when the kernel may have changed.
const DefaultCacheDir = "/run/skiff-cache/seccomp"

// cacheFormat names this file layout and this compiler: bump it whenever
// Compile could produce a different program for the same input.
const cacheFormat = "skiff-seccomp-cache/1"

var cacheMagic = [8]byte{'S', 'K', 'S', 'E', 'C', 'C', 0, 1}

const (
	cacheHeaderLen = len(cacheMagic) + sha256.Size + 4 + 4 + 4
	cacheMaxFile   = cacheHeaderLen + maxInsns*sizeofSockFilter + sha256.Size
	// Bound the directory for hosts that see many distinct profiles.
	cacheMaxEntries = 512
)

var cacheDirSetting atomic.Pointer[string]

// SetCacheDir sets the cache directory, an absolute path; "" turns the
// cache off.
func SetCacheDir(dir string) { cacheDirSetting.Store(&dir) }

func cacheDir() string {
	if d := cacheDirSetting.Load(); d != nil {
		return *d
	}
	return DefaultCacheDir
}

var kernelRelease = sync.OnceValue(func() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
})

// cacheKey hashes the profile with everything else the program depends
// on. The listener path and metadata are left out: they change per
// container but not the program.
func cacheKey(s *specs.LinuxSeccomp) ([sha256.Size]byte, error) {
	c := *s
	c.ListenerPath, c.ListenerMetadata = "", ""
	js, err := jsoncodec.EncodeSeccomp(&c)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	api, _ := libseccomp.GetAPI()
	native, _ := libseccomp.GetNativeArch()
	h := sha256.New()
	fmt.Fprintf(h, "%s\nlibseccomp %s api %d\nnative %v\nkernel %s\n", cacheFormat, Version(), api, native, kernelRelease())
	h.Write(js)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key, nil
}

func cacheFileName(key [sha256.Size]byte) string { return hex.EncodeToString(key[:]) + ".bpf" }

func cacheLoad(key [sha256.Size]byte) *Program {
	dir := cacheDir()
	if dir == "" {
		return nil
	}
	dfd, err := openCacheDir(dir, false)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			logs.Debugf("seccomp: cache not used: %v", err)
		}
		return nil
	}
	defer unix.Close(dfd)
	name := cacheFileName(key)
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != uint32(os.Geteuid()) || st.Mode&0o7777 != 0o600 ||
		st.Nlink != 1 || st.Size < int64(cacheHeaderLen+sha256.Size) || st.Size > int64(cacheMaxFile) {
		logs.Debugf("seccomp: cache file %s/%s ignored: wrong type, owner, mode or size", dir, name)
		return nil
	}
	buf := make([]byte, st.Size)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil
	}
	prog, err := decodeCacheFile(buf, key)
	if err != nil {
		logs.Debugf("seccomp: cache file %s/%s ignored: %v", dir, name, err)
		return nil
	}
	return prog
}

func encodeCacheFile(key [sha256.Size]byte, p *Program) []byte {
	b := make([]byte, 0, cacheHeaderLen+len(p.Filter)+sha256.Size)
	b = append(b, cacheMagic[:]...)
	b = append(b, key[:]...)
	b = binary.LittleEndian.AppendUint32(b, p.Flags)
	var l uint32
	if p.Listener {
		l = 1
	}
	b = binary.LittleEndian.AppendUint32(b, l)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Filter)))
	b = append(b, p.Filter...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func decodeCacheFile(b []byte, key [sha256.Size]byte) (*Program, error) {
	if len(b) < cacheHeaderLen+sha256.Size {
		return nil, errors.New("too short")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(want[:], sum) {
		return nil, errors.New("checksum mismatch")
	}
	if !bytes.Equal(body[:len(cacheMagic)], cacheMagic[:]) {
		return nil, errors.New("not a skiff seccomp cache file")
	}
	body = body[len(cacheMagic):]
	if !bytes.Equal(body[:sha256.Size], key[:]) {
		return nil, errors.New("key mismatch")
	}
	body = body[sha256.Size:]
	p := &Program{Flags: binary.LittleEndian.Uint32(body)}
	switch binary.LittleEndian.Uint32(body[4:]) {
	case 0:
	case 1:
		p.Listener = true
	default:
		return nil, errors.New("bad listener field")
	}
	n := binary.LittleEndian.Uint32(body[8:])
	body = body[12:]
	if uint64(n) != uint64(len(body)) || n == 0 || n%sizeofSockFilter != 0 {
		return nil, errors.New("bad filter length")
	}
	p.Filter = slices.Clone(body)
	return p, nil
}

func cacheStore(key [sha256.Size]byte, p *Program) {
	dir := cacheDir()
	if dir == "" {
		return
	}
	if err := cacheWrite(dir, key, p); err != nil {
		logs.Debugf("seccomp: not caching the compiled filter: %v", err)
	}
}

func cacheWrite(dir string, key [sha256.Size]byte, p *Program) (err error) {
	dfd, err := openCacheDir(dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	pruneCache(dfd)

	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s/%s: %w", dir, tmp, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		f.Close()
		if err != nil {
			_ = unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	// The umask may have taken bits the load check insists on.
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(encodeCacheFile(key, p)); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	// rename is atomic: a reader sees the old file, or the whole new one.
	return unix.Renameat(dfd, tmp, dfd, cacheFileName(key))
}

// pruneCache empties the directory when it has grown past
// cacheMaxEntries; it runs only on a miss, and the next misses refill it.
func pruneCache(dfd int) {
	d, err := openDirFd(dfd)
	if err != nil {
		return
	}
	defer d.Close()
	names, err := d.Readdirnames(cacheMaxEntries + 1)
	if err != nil || len(names) <= cacheMaxEntries {
		return
	}
	for {
		for _, n := range names {
			// Temporary files too: ones a crashed skiff left behind.
			if strings.HasSuffix(n, ".bpf") || strings.HasPrefix(n, ".tmp-") {
				_ = unix.Unlinkat(dfd, n, 0)
			}
		}
		if names, err = d.Readdirnames(256); err != nil || len(names) == 0 {
			return
		}
	}
}

func openDirFd(dfd int) (*os.File, error) {
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "seccomp-cache"), nil
}

// openCacheDir walks dir from / one component at a time without
// following symlinks, checking (and, if create, making) each, and returns
// an fd for the last one.
func openCacheDir(dir string, create bool) (int, error) {
	if !filepath.IsAbs(dir) {
		return -1, fmt.Errorf("cache directory %q is not an absolute path", dir)
	}
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open("/", flags, 0)
	if err != nil {
		return -1, err
	}
	euid := uint32(os.Geteuid())
	var parts []string
	if clean := strings.Trim(filepath.Clean(dir), "/"); clean != "" {
		parts = strings.Split(clean, "/")
	}
	at := "/"
	for i := 0; ; i++ {
		last := i == len(parts)
		if err := checkCacheDir(fd, at, euid, last); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if last {
			return fd, nil
		}
		next, err := unix.Openat(fd, parts[i], flags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, parts[i], 0o700); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, parts[i], flags, 0)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("cache directory %s: %w", filepath.Join(at, parts[i]), err)
		}
		fd, at = next, filepath.Join(at, parts[i])
	}
}

func checkCacheDir(fd int, path string, euid uint32, last bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	switch {
	case last && (st.Uid != euid || st.Mode&0o077 != 0):
		return fmt.Errorf("cache directory %s must be owned by uid %d with mode 0700 (has uid %d, mode %#o)",
			path, euid, st.Uid, st.Mode&0o7777)
	case st.Uid != 0 && st.Uid != euid:
		return fmt.Errorf("cache directory: %s is owned by uid %d", path, st.Uid)
	case st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
		return fmt.Errorf("cache directory: %s is writable by others", path)
	}
	return nil
}

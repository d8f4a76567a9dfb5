package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/jsoncodec"
	"github.com/skiff-runtime/skiff/libcontainer/sysfile"
	"github.com/skiff-runtime/skiff/specconv"
)

// Errors with runc's exact texts: tools that drive runc match on them.
var (
	ErrNotExist = errors.New("container does not exist")
	ErrExist    = errors.New("container with given ID already exists")
	ErrEmptyID  = errors.New("container id cannot be empty")
)

// checkID makes sure id is one plain directory name, before it is joined
// to any path.
func checkID(id string) error {
	if id == "" {
		return ErrEmptyID
	}
	return specconv.ValidateID(id)
}

// Dir is the state directory of container id (id must be valid).
func Dir(root, id string) string {
	return filepath.Join(root, id)
}

// CreateDir makes the state directory of a new container, and the state
// root if needed. It fails with ErrExist if the container exists.
func CreateDir(root, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	dir := Dir(root, id)
	// 0711: the container's processes may run as another user and must
	// be able to reach exec.fifo through a path.
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", ErrExist
		}
		return "", err
	}
	return dir, nil
}

// Lock takes the container's lock, waiting for any other skiff command
// holding it. Commands that change a container hold it while they
// decide and act on the container's status. The lock is a flock on the
// container's directory itself, tied to an open file description, so it
// is released if skiff dies; a lock file of its own would cost a file's
// creation and removal per container (~0.1 ms on an ext4 /run).
func Lock(root, id string) (unlock func(), err error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := Dir(root, id)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, ErrNotExist
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return func() { unix.Close(fd) }, nil
}

// Save writes st to its state.json so that a reader sees either the old
// or the new file, never a partial one.
func Save(root string, st *State) error {
	if err := checkID(st.ID); err != nil {
		return err
	}
	dir := Dir(root, st.ID)
	if st.Config != nil {
		st.Annotations = st.Config.Annotations
		data, err := jsoncodec.EncodeConfig(st.Config)
		if err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
		if err := writeAtomic(dir, ConfigFile, data); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	data, err := jsoncodec.Encode(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := writeAtomic(dir, StateFile, data); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// writeAtomic writes a temporary file and renames it over name: readers
// see the old or the new content, never a mix, and a skiff killed
// half-way leaves the old one. No fsync: the state describes processes
// that a power loss ends anyway (runc and crun do not sync it either),
// and an fsync costs a journal commit, milliseconds per create.
func writeAtomic(dir, name string, data []byte) error {
	// Plain system calls: os.CreateTemp would register the file with the
	// runtime's poller and undo it, five calls more.
	var tmp string
	fd := -1
	for i := 0; fd < 0; i++ {
		tmp = filepath.Join(dir, fmt.Sprintf(".%s-%d-%d", name, os.Getpid(), i))
		var err error
		fd, err = unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err == unix.EEXIST && i < 100 {
			continue // left by a skiff killed half-way with our pid
		}
		if err != nil {
			return &os.PathError{Op: "create", Path: tmp, Err: err}
		}
	}
	err := writeAll(fd, tmp, data)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: tmp, Err: cerr}
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = unix.Unlink(tmp)
	}
	return err
}

func writeAll(fd int, path string, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "write", Path: path, Err: err}
		}
		data = data[n:]
	}
	return nil
}

// LockAndLoad takes the container's lock, then loads it: what a command
// that changes a container does first. The caller runs unlock.
func LockAndLoad(root, id string) (st *State, unlock func(), err error) {
	unlock, err = Lock(root, id)
	if err != nil {
		return nil, nil, err
	}
	if st, err = Load(root, id); err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// LoadLite reads what start, kill and delete need. When create recorded
// that the config has no hooks (NoHooks), that is state.json alone and
// Config stays nil: decoding config.json is most of what loading costs.
// Otherwise it is Load.
func LoadLite(root, id string) (*State, error) {
	st, err := loadSummary(root, id)
	if err != nil {
		return nil, err
	}
	if !st.NoHooks {
		return Load(root, id)
	}
	return st, nil
}

// Load reads a container's state and config; ErrNotExist when there is
// no such container.
func Load(root, id string) (*State, error) {
	st, err := loadSummary(root, id)
	if err != nil {
		return nil, err
	}
	cpath := filepath.Join(Dir(root, id), ConfigFile)
	st.Config = new(configs.Config)
	data, err := sysfile.ReadFile(cpath)
	if errors.Is(err, fs.ErrNotExist) {
		// A half-made container: what state.json says is enough to
		// signal and delete it.
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := decodeFile(cpath, data, st.Config, jsoncodec.DecodeConfig); err != nil {
		return nil, err
	}
	return st, nil
}

// decodeFile decodes a file skiff wrote with its generated decoder,
// fast; one written by another version of skiff, or damaged, is decoded
// by encoding/json, which reads what it can and says what is wrong.
func decodeFile[T any](path string, data []byte, v *T, fast func([]byte, *T) bool) error {
	if fast(data, v) {
		return nil
	}
	*v = *new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// loadSummary reads state.json only: what `list` shows, without the
// container's whole config.
func loadSummary(root, id string) (*State, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := filepath.Join(Dir(root, id), StateFile)
	st := new(State)
	decodeState := func(data []byte, st *State) bool { return jsoncodec.DecodeOwn(data, st) }
	// Both decoders copy what they keep of data.
	err := sysfile.Use(path, func(data []byte) error { return decodeFile(path, data, st, decodeState) })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// ListError lists the containers List could not load.
type ListError struct {
	Errs []error // one per container: "load container <id>: ..."
}

func (e *ListError) Error() string { return errors.Join(e.Errs...).Error() }

// Listed is a container as `list` shows it: its state, its status and
// the owner of its state directory (whoever created it).
type Listed struct {
	*State
	Status   string
	OwnerUID uint32
}

// List loads every container under root, in directory order, with its
// status and owner. Entries that cannot be loaded are left out and
// reported in a *ListError, returned next to the containers that could
// be loaded. Directories without state.json (creates in progress, or
// deleted meanwhile) are skipped silently. A missing root means no
// containers.
func List(root string) ([]Listed, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && checkID(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	// Decoding state.json and the status (a /proc read, the freezer
	// state, the exec fifo) are most of the cost of listing many
	// containers; they are spread over the CPUs.
	states := make([]Listed, len(names))
	loadErrs := make([]error, len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(listWorkers(len(names)), len(names)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				states[i], loadErrs[i] = loadListed(root, names[i])
			}
		})
	}
	wg.Wait()

	var (
		out  []Listed
		errs []error
	)
	for i, st := range states {
		switch err := loadErrs[i]; {
		case errors.Is(err, ErrNotExist):
		case err != nil:
			errs = append(errs, fmt.Errorf("load container %s: %w", names[i], err))
		default:
			out = append(out, st)
		}
	}
	if len(errs) > 0 {
		return out, &ListError{Errs: errs}
	}
	return out, nil
}

// listInParallel is how many containers make it worth using every CPU:
// loading one costs ~30 us, giving the Go runtime more Ps ~0.1 ms.
const listInParallel = 32

// listWorkers is how many goroutines load n containers. skiff's Go
// runtime starts with one P (libcontainer/nsenter/maxprocs.c); for
// many containers it gets one for each CPU skiff may run on.
func listWorkers(n int) int {
	procs := runtime.GOMAXPROCS(0)
	if n < listInParallel || procs > 1 {
		return procs
	}
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil || cpus.Count() <= procs {
		return procs
	}
	runtime.GOMAXPROCS(cpus.Count())
	return cpus.Count()
}

func loadListed(root, id string) (Listed, error) {
	st, err := loadSummary(root, id)
	if err != nil {
		return Listed{}, err
	}
	var sb unix.Stat_t
	if err := unix.Stat(Dir(root, id), &sb); err != nil {
		return Listed{}, ErrNotExist
	}
	return Listed{State: st, Status: st.Status(root), OwnerUID: sb.Uid}, nil
}

// Remove deletes container id's state directory.
func Remove(root, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return os.RemoveAll(Dir(root, id))
}

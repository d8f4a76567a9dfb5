package initplan

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

func testOptions() Options {
	return Options{
		FifoFd:       4,
		HostBounding: 1<<unix.CAP_CHOWN | 1<<unix.CAP_KILL,
		LastCap:      40,
		CapByName:    map[string]uint32{"CAP_CHOWN": unix.CAP_CHOWN, "CAP_KILL": unix.CAP_KILL, "CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE},
	}
}

func baseConfig() *configs.Config {
	return &configs.Config{
		Rootfs:     "/bundle/rootfs",
		Namespaces: []configs.Namespace{{Type: configs.NEWNS}, {Type: configs.NEWPID}},
		Process:    configs.Process{Args: []string{"sh"}, Env: []string{"PATH=/bin:/usr/bin"}, Cwd: "/"},
	}
}

// joinedNetConfig joins a network namespace by path and creates mount,
// pid and cgroup namespaces.
func joinedNetConfig() *configs.Config {
	cfg := baseConfig()
	cfg.Namespaces = []configs.Namespace{
		{Type: configs.NEWNET, Path: "/proc/1/ns/net"},
		{Type: configs.NEWNS},
		{Type: configs.NEWPID},
		{Type: configs.NEWCGROUP},
	}
	return cfg
}

func stepsOf[T Step](p *Plan) []T {
	var out []T
	for _, s := range p.Steps {
		if v, ok := s.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestNamespaceOrder(t *testing.T) {
	cfg := baseConfig()
	cfg.Namespaces = []configs.Namespace{
		{Type: configs.NEWNET, Path: "/proc/1/ns/net"},
		{Type: configs.NEWNS},
		{Type: configs.NEWUSER, Path: "/proc/1/ns/user"},
		{Type: configs.NEWPID},
	}
	r, err := Build(cfg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		NSJoin{Type: unix.CLONE_NEWUSER, Path: "/proc/1/ns/user"},
		NSJoin{Type: unix.CLONE_NEWNET, Path: "/proc/1/ns/net"},
		NSUnshare{Flags: unix.CLONE_NEWNS | unix.CLONE_NEWPID},
		ForkInit{},
	}
	if !reflect.DeepEqual(r.Plan.Steps[:4], want) {
		t.Fatalf("stage 1 = %#v", r.Plan.Steps[:4])
	}
}

// Stage 1 joins its v1 cgroups before any namespace: inside a user
// namespace it could no longer write the host's tasks files.
func TestCgroupSelfJoinFirst(t *testing.T) {
	cfg := baseConfig()
	cfg.Namespaces = []configs.Namespace{
		{Type: configs.NEWUSER, Path: "/proc/1/ns/user"},
		{Type: configs.NEWNS},
		{Type: configs.NEWPID},
		{Type: configs.NEWCGROUP},
	}
	o := testOptions()
	o.CgroupSelfJoin = []string{"/sys/fs/cgroup/memory/c1", "/sys/fs/cgroup/pids/c1"}
	r, err := Build(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		CgroupJoin{Dir: "/sys/fs/cgroup/memory/c1"},
		CgroupJoin{Dir: "/sys/fs/cgroup/pids/c1"},
		NSJoin{Type: unix.CLONE_NEWUSER, Path: "/proc/1/ns/user"},
		NSUnshare{Flags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWCGROUP},
		ForkInit{},
	}
	if !reflect.DeepEqual(r.Plan.Steps[:5], want) {
		t.Fatalf("stage 1 = %#v", r.Plan.Steps[:5])
	}
	if got := len(stepsOf[CgroupJoin](r.Plan)); got != 2 {
		t.Errorf("%d CgroupJoin steps, want 2", got)
	}
}

// Without a user namespace stage 1 creates its namespaces first, while
// the parent makes the cgroups, then waits for it, joins, and only then
// makes the cgroup namespace (rooted where it is) and forks the init.
func TestCgroupSelfJoinLate(t *testing.T) {
	cfg := joinedNetConfig()
	if !LateCgroupJoinAllowed(cfg) {
		t.Fatal("a joined network namespace must not stop a late join")
	}
	o := testOptions()
	o.CgroupSelfJoin = []string{"/sys/fs/cgroup/memory/c1", "/sys/fs/cgroup/pids/c1"}
	o.CgroupSelfJoinLate = true
	r, err := Build(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		NSJoin{Type: unix.CLONE_NEWNET, Path: "/proc/1/ns/net"},
		NSUnshare{Flags: unix.CLONE_NEWNS | unix.CLONE_NEWPID},
		Sync{Tag: SyncCgroupMade},
		CgroupJoin{Dir: "/sys/fs/cgroup/memory/c1"},
		CgroupJoin{Dir: "/sys/fs/cgroup/pids/c1"},
		NSUnshare{Flags: unix.CLONE_NEWCGROUP},
		ForkInit{},
	}
	if !reflect.DeepEqual(r.Plan.Steps[:len(want)], want) {
		t.Fatalf("stage 1 = %#v", r.Plan.Steps[:len(want)])
	}
	if got := len(stepsOf[CgroupJoin](r.Plan)); got != 2 {
		t.Errorf("%d CgroupJoin steps, want 2", got)
	}

	// Where stage 1 could not open the host's cgroup files any more, or
	// would resolve their paths elsewhere, Build refuses.
	for name, ns := range map[string]configs.Namespace{
		"new user":    {Type: configs.NEWUSER},
		"joined user": {Type: configs.NEWUSER, Path: "/proc/1/ns/user"},
		"joined mnt":  {Type: configs.NEWNS, Path: "/proc/1/ns/mnt"},
	} {
		cfg := baseConfig()
		cfg.Namespaces = []configs.Namespace{ns, {Type: configs.NEWPID}}
		if LateCgroupJoinAllowed(cfg) {
			t.Errorf("%s namespace: late join allowed", name)
		}
		if _, err := Build(cfg, o); err == nil {
			t.Errorf("%s namespace: Build made a late join", name)
		}
	}
}

// An init started as PID 1 of its new pid namespace (the parent's
// CLONE_NEWPID) carries out the whole plan: it neither creates that
// namespace again nor forks; the other namespaces and the cgroup steps
// stay where they were.
func TestInitBornInPidNamespace(t *testing.T) {
	cfg := joinedNetConfig()
	if !InitBornInPidNamespace(cfg) {
		t.Fatal("a new pid namespace without a user or time namespace: the init must be born in it")
	}
	o := testOptions()
	o.CgroupSelfJoin = []string{"/sys/fs/cgroup/memory/c1"}
	o.CgroupSelfJoinLate = true
	o.InitBornInPidNS = true
	r, err := Build(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		NSJoin{Type: unix.CLONE_NEWNET, Path: "/proc/1/ns/net"},
		NSUnshare{Flags: unix.CLONE_NEWNS},
		Sync{Tag: SyncCgroupMade},
		CgroupJoin{Dir: "/sys/fs/cgroup/memory/c1"},
		NSUnshare{Flags: unix.CLONE_NEWCGROUP},
		Setsid{},
	}
	if !reflect.DeepEqual(r.Plan.Steps[:len(want)], want) {
		t.Fatalf("plan starts %#v", r.Plan.Steps[:len(want)])
	}
	if n := len(stepsOf[ForkInit](r.Plan)); n != 0 {
		t.Errorf("%d ForkInit steps, want none", n)
	}

	// Without cgroup steps, and with no namespace left to create.
	cfg = baseConfig()
	cfg.Namespaces = []configs.Namespace{{Type: configs.NEWPID}}
	o = testOptions()
	o.InitBornInPidNS = true
	if r, err = Build(cfg, o); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Plan.Steps[0].(Setsid); !ok || len(stepsOf[ForkInit](r.Plan)) != 0 || len(stepsOf[NSUnshare](r.Plan)) != 0 {
		t.Errorf("plan with only the pid namespace: %#v", r.Plan.Steps)
	}

	// The pid namespace must be new, and made after a user namespace
	// (to belong to it); a time namespace takes in only the children of
	// what makes or joins it. There the init is forked as before, and
	// Build refuses to plan otherwise.
	for name, nss := range map[string][]configs.Namespace{
		"no pid":      {{Type: configs.NEWNS}},
		"joined pid":  {{Type: configs.NEWPID, Path: "/proc/1/ns/pid"}},
		"new user":    {{Type: configs.NEWUSER}, {Type: configs.NEWPID}},
		"joined user": {{Type: configs.NEWUSER, Path: "/proc/1/ns/user"}, {Type: configs.NEWPID}},
		"new time":    {{Type: configs.NEWTIME}, {Type: configs.NEWPID}},
		"joined time": {{Type: configs.NEWTIME, Path: "/proc/1/ns/time"}, {Type: configs.NEWPID}},
	} {
		cfg := baseConfig()
		cfg.Namespaces = nss
		if InitBornInPidNamespace(cfg) {
			t.Errorf("%s: the init would be born in its pid namespace", name)
		}
		if _, err := Build(cfg, o); err == nil {
			t.Errorf("%s: Build planned an init born in its pid namespace", name)
		}
		o2 := testOptions()
		r, err := Build(cfg, o2)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := len(stepsOf[ForkInit](r.Plan)); n != 1 {
			t.Errorf("%s: %d ForkInit steps, want 1", name, n)
		}
	}
}

// exec: stage 1 opens the cgroup files before any namespace, the forked
// process joins (only it counts against pids.max), without the parent.
func TestExecCgroupSelfJoin(t *testing.T) {
	o := ExecOptions{
		Options:        testOptions(),
		NamespacePaths: map[configs.NamespaceType]string{configs.NEWUSER: "/proc/9/ns/user", configs.NEWNS: "/proc/9/ns/mnt"},
		CgroupSelfJoin: []string{"/sys/fs/cgroup/pids/c1"},
	}
	r, err := BuildExec(&configs.Process{Args: []string{"true"}, Cwd: "/"}, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		CgroupJoin{Dir: "/sys/fs/cgroup/pids/c1", Later: true},
		NSJoin{Type: unix.CLONE_NEWUSER, Path: "/proc/9/ns/user"},
		NSJoin{Type: unix.CLONE_NEWNS, Path: "/proc/9/ns/mnt"},
		ForkInit{},
		CgroupJoinKept{},
	}
	if !reflect.DeepEqual(r.Plan.Steps[:5], want) {
		t.Fatalf("exec plan starts %#v", r.Plan.Steps[:5])
	}
	if len(stepsOf[Sync](r.Plan)) != 0 {
		t.Errorf("the parent is still asked to move the process: %v", stepsOf[Sync](r.Plan))
	}
	o.CgroupSelfJoin = nil
	if r, err = BuildExec(&configs.Process{Args: []string{"true"}, Cwd: "/"}, o); err != nil {
		t.Fatal(err)
	}
	if got := stepsOf[Sync](r.Plan); len(got) != 1 || got[0].Tag != SyncJoinCgroup {
		t.Errorf("without self-join the parent must move the process: %v", got)
	}
}

func TestPlanEndsWithFifoThenExec(t *testing.T) {
	r, err := Build(baseConfig(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Plan.Steps)
	if _, ok := r.Plan.Steps[n-1].(Exec); !ok {
		t.Fatalf("last step %v", r.Plan.Steps[n-1])
	}
	if w, ok := r.Plan.Steps[n-2].(WaitExecFifo); !ok || w.Fd != 4 {
		t.Fatalf("second to last step %v", r.Plan.Steps[n-2])
	}
	if rs := stepsOf[ExecResolve](r.Plan); len(rs) != 1 || rs[0].Path != "/bin:/usr/bin" {
		t.Fatalf("exec resolve %v", rs)
	}
	if rf := stepsOf[Rootfs](r.Plan); len(rf[0].Propagation) != 1 || rf[0].Propagation[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Fatalf("default root propagation %x", rf[0].Propagation)
	}
	if _, err := Encode(r.Plan); err != nil {
		t.Fatal(err)
	}
}

func TestCapabilitiesUngrantableAreWarnings(t *testing.T) {
	cfg := baseConfig()
	cfg.Process.Capabilities = &configs.Capabilities{
		Bounding:  []string{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NOPE"},
		Effective: []string{"CAP_KILL"},
	}
	r, err := Build(cfg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	b := stepsOf[CapsBounding](r.Plan)[0]
	if b.Keep != 1<<unix.CAP_CHOWN {
		t.Fatalf("bounding %x", b.Keep)
	}
	if c := stepsOf[Caps](r.Plan)[0]; c.Effective != 1<<unix.CAP_KILL {
		t.Fatalf("effective %x", c.Effective)
	}
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], "CAP_SYS_RESOURCE") || !strings.Contains(r.Warnings[1], "CAP_NOPE") {
		t.Fatalf("warnings %q", r.Warnings)
	}
}

func TestMountAttrs(t *testing.T) {
	set, clr := mountAttrs(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_RELATIME, unix.MS_NODEV)
	if set != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RELATIME {
		t.Fatalf("set %x", set)
	}
	if clr != unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR__ATIME {
		t.Fatalf("clear %x", clr)
	}
}

func TestFSParams(t *testing.T) {
	got := fsParams(configs.Mount{Data: "size=64k,newinstance,,mode=755", Flags: unix.MS_DIRSYNC})
	want := []FSParam{{Key: "dirsync", Flag: true}, {Key: "size", Value: "64k"}, {Key: "newinstance", Flag: true}, {Key: "mode", Value: "755"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%#v", got)
	}
}

func TestSysctlPath(t *testing.T) {
	if got := sysctlPath("net.ipv4.conf.eth0/100.rp_filter"); got != "net/ipv4/conf/eth0.100/rp_filter" {
		t.Fatal(got)
	}
}

func TestDevicesSkippedWhenDevIsBound(t *testing.T) {
	cfg := baseConfig()
	cfg.Devices = []configs.Device{{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3}}
	cfg.Mounts = []configs.Mount{{Source: "/dev", Destination: "/dev", Bind: true}}
	r, _ := Build(cfg, testOptions())
	if len(stepsOf[Device](r.Plan)) != 0 {
		t.Fatal("devices planned over a bound /dev")
	}
	cfg.Mounts = nil
	cfg.Namespaces = append(cfg.Namespaces, configs.Namespace{Type: configs.NEWUSER})
	r, _ = Build(cfg, testOptions())
	d := stepsOf[Device](r.Plan)
	if len(d) != 1 || !d[0].Bind || d[0].Mode != unix.S_IFCHR|0o666 {
		t.Fatalf("devices in a user namespace %#v", d)
	}
}

// process.selinuxLabel is applied only where SELinux is on (runc ignores
// it otherwise), through the init's procfs, before skiff's fds close.
func TestSelinuxLabel(t *testing.T) {
	cfg := baseConfig()
	cfg.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
	r, err := Build(cfg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(stepsOf[ExecLabel](r.Plan)) != 0 {
		t.Fatal("label planned without SELinux")
	}
	o := testOptions()
	o.SELinux = true
	r, err = Build(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	label, closeFds := -1, -1
	for i, s := range r.Plan.Steps {
		switch v := s.(type) {
		case ExecLabel:
			if v.Label != cfg.Process.SelinuxLabel {
				t.Errorf("label %q", v.Label)
			}
			label = i
		case CloseFds:
			closeFds = i
		}
	}
	if label < 0 || label > closeFds {
		t.Errorf("exec label at step %d, fds closed at %d", label, closeFds)
	}
}

// linux.mountLabel goes into the data of the mounts runc labels, as
// runc writes it (context="..."), and reaches fsconfig() unquoted; only
// where SELinux is on.
func TestMountLabel(t *testing.T) {
	const lbl = "system_u:object_r:container_file_t:s0:c1,c2"
	cfg := baseConfig()
	cfg.MountLabel = lbl
	cfg.Mounts = []configs.Mount{
		{Source: "proc", Destination: "/proc", Type: "proc"},
		{Source: "tmpfs", Destination: "/dev", Type: "tmpfs", Data: "mode=755,size=65536k"},
		{Source: "devpts", Destination: "/dev/pts", Type: "devpts", Data: "newinstance,ptmxmode=0666"},
		{Source: "shm", Destination: "/dev/shm", Type: "tmpfs"},
		{Source: "mqueue", Destination: "/dev/mqueue", Type: "mqueue"},
		{Source: "sysfs", Destination: "/sys", Type: "sysfs"},
		{Source: "cgroup", Destination: "/sys/fs/cgroup", Type: "cgroup"},
		{Source: "/data", Destination: "/data", Bind: true},
	}
	contexts := func(o Options) map[string]string {
		r, err := Build(cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, m := range stepsOf[MountFS](r.Plan) {
			for _, p := range m.Params {
				if p.Key == "context" {
					got[m.Dest] = p.Value
				}
			}
		}
		return got
	}
	if got := contexts(testOptions()); len(got) != 0 {
		t.Errorf("without SELinux: context= on %v", got)
	}
	o := testOptions()
	o.SELinux = true
	want := map[string]string{"/dev": lbl, "/dev/pts": lbl, "/dev/shm": lbl, "/sys/fs/cgroup": lbl}
	if got := contexts(o); !reflect.DeepEqual(got, want) {
		t.Errorf("with SELinux: context= on %v, want %v", got, want)
	}
	// The label does not displace the mount's own options.
	r, _ := Build(cfg, o)
	for _, m := range stepsOf[MountFS](r.Plan) {
		if m.Dest == "/dev" {
			wantParams := []FSParam{{Key: "mode", Value: "755"}, {Key: "size", Value: "65536k"}, {Key: "context", Value: lbl}}
			if !reflect.DeepEqual(m.Params, wantParams) {
				t.Errorf("/dev params %#v", m.Params)
			}
		}
	}
	o.CgroupV2 = true
	if got := contexts(o); got["/sys/fs/cgroup"] != "" {
		t.Errorf("cgroup2 labelled: %q", got["/sys/fs/cgroup"])
	}
	cfg.MountLabel = ""
	if got := contexts(o); len(got) != 0 {
		t.Errorf("no mountLabel: context= on %v", got)
	}
}

// Quoted option values keep their commas; SELinux contexts lose the
// quotes, which fsconfig() would pass on to the label parser.
func TestFSParamsQuoted(t *testing.T) {
	got := fsParams(configs.Mount{Data: `mode=755,context="u:r:t:s0:c1,c2",fscontext="a:b:c:s0",x`})
	want := []FSParam{
		{Key: "mode", Value: "755"},
		{Key: "context", Value: "u:r:t:s0:c1,c2"},
		{Key: "fscontext", Value: "a:b:c:s0"},
		{Key: "x", Flag: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%#v", got)
	}
}

// The session keyring is joined right after the namespaces, with search
// permission for the user (or, in a user namespace, others) so that exec
// can join it; none with --no-new-keyring.
func TestSessionKeyringStep(t *testing.T) {
	find := func(steps []Step) (SessionKeyring, int) {
		for i, s := range steps {
			if k, ok := s.(SessionKeyring); ok {
				return k, i
			}
		}
		return SessionKeyring{}, -1
	}
	cfg := baseConfig()
	res, err := Build(cfg, Options{SessionKeyring: "_ses.c1"})
	if err != nil {
		t.Fatal(err)
	}
	k, i := find(res.Plan.Steps)
	if i < 0 || k.Name != "_ses.c1" || k.SearchPerm != keyUserSearch || k.Label != "" {
		t.Fatalf("create: %+v at %d", k, i)
	}
	if _, ok := res.Plan.Steps[i-1].(Setsid); !ok {
		t.Errorf("keyring joined after %v, want right after setsid", res.Plan.Steps[i-1])
	}
	cfg.Namespaces = append(cfg.Namespaces, configs.Namespace{Type: configs.NEWUSER})
	cfg.Process.SelinuxLabel = "system_u:system_r:container_t:s0"
	res, err = Build(cfg, Options{SessionKeyring: "_ses.c1", SELinux: true})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := find(res.Plan.Steps); k.SearchPerm != keyOtherSearch || k.Label != cfg.Process.SelinuxLabel {
		t.Errorf("user namespace, SELinux: %+v", k)
	}
	res, err = Build(baseConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, i := find(res.Plan.Steps); i >= 0 {
		t.Errorf("--no-new-keyring: a keyring step at %d", i)
	}
	ex, err := BuildExec(&baseConfig().Process, ExecOptions{Options: Options{SessionKeyring: "_ses.c1"}})
	if err != nil {
		t.Fatal(err)
	}
	if k, i := find(ex.Plan.Steps); i < 0 || k.Name != "_ses.c1" || k.SearchPerm != 0 {
		t.Errorf("exec: %+v at %d", k, i)
	}
}

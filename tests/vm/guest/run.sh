#!/bin/sh
# run.sh LANE DIR: skiff's cgroup tests inside the lane VM. DIR is the
# unpacked payload: skiff, tests.test (go test -c ./tests, static), the
# probe and busybox bundle under build/, and lane.env from lane.sh
# (TEST_RUN, TEST_TIMEOUT, REQUIRE_MINIMAL, REQUIRE_SYSTEMD). Output goes to the second serial
# port; lane.sh passes the lane only on "SKIFF-LANE-RESULT: PASS".
#
# The verdict is FAIL when the test binary fails, runs no test, skips a
# test named in REQUIRE_<LANE> (the ones that must really run in this lane),
# or when the set of cgroup directories differs after the run from
# before it (a leaked or a wrongly removed cgroup).
lane=$1
dir=$2
. "$dir/lane.env"
REQUIRE=$REQUIRE_MINIMAL
[ "$lane" = systemd ] && REQUIRE=$REQUIRE_SYSTEMD
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "SKIFF-LANE: $*"; }
uptime() { cut -d' ' -f1 /proc/uptime; }
res=PASS
fail() {
	say "FAIL: $*"
	res=FAIL
}

say "lane=$lane kernel=$(uname -r) pid1=$(cat /proc/1/comm) uptime=$(uptime)s"
say "cgroup mounts: $(grep cgroup /proc/mounts | tr '\n' ';')"
say "controllers: $(cat /sys/fs/cgroup/cgroup.controllers); root subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
say "this shell's cgroup: $(cat /proc/self/cgroup)"
"$dir/skiff" --version | head -1 | sed 's/^/SKIFF-LANE: /'

if [ "$lane" = systemd ]; then
	# Let the boot finish, so that the cgroup count below is not taken
	# while systemd still starts units: wait (20 s at most) until no job
	# but ours runs. The others left wait for ours (multi-user.target,
	# and what comes after it).
	end=$(($(cut -d. -f1 /proc/uptime) + 20))
	while [ "$(systemctl list-jobs --no-legend 2>/dev/null | awk '$4 == "running" && $2 != "skiff-lane.service"' | wc -l)" != 0 ] &&
		[ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
		sleep 0.2
	done
	say "$(systemctl --version | head -1); dbus $(systemctl is-active dbus.service)"
	say "jobs: $(systemctl list-jobs --no-legend | awk '{print $2 "/" $4}' | tr '\n' ' ')"
fi

# Every cgroup directory, sorted: compared with the same list after the
# whole run.
cgroups() { find /sys/fs/cgroup -type d | sort; }
cgroups >"$dir/cgroups.before"
say "cgroup directories before: $(wc -l <"$dir/cgroups.before")"

say "go test -test.run '$TEST_RUN' (timeout $TEST_TIMEOUT), uptime=$(uptime)s"
cd "$dir" || exit 1
{
	SKIFF_BINARY=$dir/skiff SKIFF_BUILD_DIR=$dir/build \
		./tests.test -test.v -test.count=1 -test.timeout="$TEST_TIMEOUT" -test.run "$TEST_RUN" 2>&1
	echo $? >"$dir/rc"
} | tee "$dir/test.log"
rc=$(cat "$dir/rc")
say "tests ended: exit $rc, uptime=$(uptime)s"

pass=$(grep -c '^--- PASS: ' "$dir/test.log")
failed=$(grep -c '^--- FAIL: ' "$dir/test.log")
skip=$(grep -c '^--- SKIP: ' "$dir/test.log")
say "tests: pass=$pass fail=$failed skip=$skip"
# A skipped test says why on the line before its --- SKIP line.
awk '/^--- SKIP: / {sub(/^ +/, "", prev); print "SKIFF-LANE: skipped " $3 ": " prev} {prev = $0}' "$dir/test.log"
[ "$rc" = 0 ] || fail "the test binary exited $rc"
[ "$pass" -gt 0 ] || fail "no test passed (pattern '$TEST_RUN')"
[ "$failed" = 0 ] || fail "$failed tests failed: $(grep '^--- FAIL: ' "$dir/test.log" | awk '{print $3}' | tr '\n' ' ')"
for t in $REQUIRE; do
	grep -q "^--- PASS: $t " "$dir/test.log" || fail "$t must run and pass in the $lane lane"
done

# Cgroups go away synchronously with the cgroupfs driver; systemd removes
# a scope's cgroup a moment after it empties. Allow 10 s for that.
i=0
while :; do
	cgroups >"$dir/cgroups.after"
	cmp -s "$dir/cgroups.before" "$dir/cgroups.after" && break
	[ $i -ge 100 ] && break
	sleep 0.1
	i=$((i + 1))
done
say "cgroup directories after: $(wc -l <"$dir/cgroups.after")"
if ! cmp -s "$dir/cgroups.before" "$dir/cgroups.after"; then
	grep -vxF -f "$dir/cgroups.before" "$dir/cgroups.after" | sed 's/^/SKIFF-LANE: cgroup leaked: /'
	grep -vxF -f "$dir/cgroups.after" "$dir/cgroups.before" | sed 's/^/SKIFF-LANE: cgroup removed: /'
	fail "the cgroup directories differ after the run"
fi

say "uptime=$(uptime)s"
echo "SKIFF-LANE-TESTS: pass=$pass fail=$failed skip=$skip"
echo "SKIFF-LANE-RESULT: $res"
[ "$res" = PASS ]

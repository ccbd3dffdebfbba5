#!/usr/bin/env bash
# Boots a real systemd (systemd-nspawn) in a Debian rootfs without the Swift toolchain,
# installs regiond from its .deb (built here from BIN_DIR by scripts/deb.sh), and checks
# what an operator sees: the package's install, Type=notify readiness, StatusText, the
# hardening score, structured journal fields, a region broken and mended, reload (good
# and bad), the watchdog restarting a frozen regiond, stop, exit 78, an upgrade that
# keeps the config, the plan and the history, then remove and purge.
#
# Usage: Tests/systemd/container-test.sh [BIN_DIR]
# The Debian rootfs is built once with debootstrap and cached in
# $REGIOND_TEST_ROOTFS (default /var/cache/regiond-test-rootfs).
# Waits are on events (journalctl -f, systemctl start of a Type=notify unit),
# each bounded by `timeout` so a broken build fails instead of hanging.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-.build/debug}
# make test-sanitize runs sanitized binaries several times slower: waits scale with it.
SLOW=${REGIOND_TEST_SLOWDOWN:-1}
ROOTFS=${REGIOND_TEST_ROOTFS:-/var/cache/regiond-test-rootfs}
MACHINE=regiond-test-$$
passed=0
failed=0

check() {  # check NAME COMMAND...: one assertion
    local name=$1
    shift
    if "$@"; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        failed=$((failed + 1))
    fi
}

# One run at a time per rootfs: two test runs (two checkouts) would install their
# binaries and configs over each other's.
mkdir -p "$(dirname "$ROOTFS")"
exec 9>"$ROOTFS.lock"
flock -w 600 9 || { echo "another run holds $ROOTFS.lock"; echo "0 passed, 1 failed"; exit 1; }

if [ ! -x "$ROOTFS/usr/lib/systemd/systemd" ]; then
    echo "building the test rootfs in $ROOTFS (once)"
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libsqlite3-0 bookworm "$ROOTFS" >/tmp/regiond-debootstrap.log 2>&1 || {
        tail -20 /tmp/regiond-debootstrap.log
        echo "0 passed, 1 failed"
        exit 1
    }
fi

# The package, and a rebuilt one with a bumped version for the upgrade. gzip: xz on a
# debug build takes a minute for nothing a test needs.
debs=$(mktemp -d /tmp/regiond-container-debs.XXXXXX)
export REGIOND_DEB_COMPRESS="-Zgzip -z1"
# Under ThreadSanitizer, suppressions are matched by function name: keep the symbols
# (nostrip) and give the container the toolchain's llvm-symbolizer (below), or the known
# swift-subprocess report goes unmatched and halts regiond.
lintian_skip=""
if [ -n "${TSAN_OPTIONS:-}" ]; then
    export DEB_BUILD_OPTIONS=nostrip
    lintian_skip="--suppress-tags unstripped-binary-or-object"
fi
deb1=$(scripts/deb.sh "$BIN" "$debs") || { echo "0 passed, 1 failed"; exit 1; }
deb2=$(REGIOND_DEB_VERSION="$(dpkg-deb -f "$deb1" Version)+upgrade1" scripts/deb.sh "$BIN" "$debs") || { echo "0 passed, 1 failed"; exit 1; }
# lintian as Debian's archive would run it: no error and no warning (the one overridden
# error, a zlib copy SwiftPM compiles in, has its reason in debian/regiond.lintian-overrides).
lintian_out=$(lintian --fail-on error,warning $lintian_skip "$deb1" 2>&1 | grep -v '^running with root privileges')
check "lintian finds no error or warning in the package" test -z "$(grep -E '^(E|W):' <<<"$lintian_out")"
[ -n "$lintian_out" ] && echo "$lintian_out" | sed 's/^/# lintian: /'
mkdir -p "$ROOTFS/var/cache/regiond-test"
rm -f "$ROOTFS/var/cache/regiond-test/"*.deb
cp "$deb1" "$deb2" "$ROOTFS/var/cache/regiond-test/"
deb1=/var/cache/regiond-test/$(basename "$deb1")
deb2=/var/cache/regiond-test/$(basename "$deb2")
rm -rf "$debs"

# make test-sanitize runs this with sanitized binaries: give the unit the same sanitizer
# options as the test run (without them LeakSanitizer reports NIO's perpetual thread
# pool at exit and the clean stop reads as a failure). The rootfs is reused: a plain run
# removes the drop-in again.
dropin="$ROOTFS/etc/systemd/system/regiond.service.d/sanitizer.conf"
# The suppressions as the container sees them; every command this script runs there
# (regionctl through nsenter) inherits them. Nothing on the host side is instrumented.
tsan=${TSAN_OPTIONS:+$(echo "$TSAN_OPTIONS" | sed 's|suppressions=[^:]*|suppressions=/etc/regiond-test/tsan.supp|'):external_symbolizer_path=/usr/local/bin/llvm-symbolizer}
if [ -n "$tsan" ]; then export TSAN_OPTIONS="$tsan"; fi
rm -rf "$ROOTFS/etc/systemd/system/regiond.service.d" "$ROOTFS/etc/regiond-test"
if [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then
    install -D -m 0644 Tests/sanitizers/tsan.supp "$ROOTFS/etc/regiond-test/tsan.supp"
    mkdir -p "$(dirname "$dropin")"
    {
        echo "[Service]"
        if [ -n "${ASAN_OPTIONS:-}" ]; then echo "Environment=ASAN_OPTIONS=$ASAN_OPTIONS"; fi
        if [ -n "$tsan" ]; then echo "Environment=TSAN_OPTIONS=$tsan"; fi
        # Sanitized binaries are several times slower to stop. ThreadSanitizer re-executes
        # itself with ASLR off (personality(2)), which LockPersonality= forbids; the
        # sanitizers map their shadow memory in ways MemoryDenyWriteExecute= may refuse.
        echo "TimeoutStopSec=60"
        echo "LockPersonality=no"
        echo "MemoryDenyWriteExecute=no"
    } >"$dropin"
fi
# The test's config (short windows so statuses move within seconds) goes in after the
# package is installed: a locally edited conffile, which the upgrade must keep.
sed -e 's|/tmp/regiond-demo/control.sock|/run/regiond/control.sock|' -e 's|/tmp/regiond-demo|/var/lib/regiond|' \
    etc/regiond/demo.toml >/tmp/regiond-container.toml
echo "# edited locally by the container test" >>/tmp/regiond-container.toml
install -D -m 0644 /tmp/regiond-container.toml "$ROOTFS/etc/regiond-test/regiond.toml"
cat >"$ROOTFS/etc/systemd/system/demo-fleet.service" <<'UNIT'
[Unit]
Description=regiond demo fleet
[Service]
ExecStart=/usr/lib/regiond/demo-fleet --base-port 18080 --regions eu-west,us-east,ap-south
UNIT
# Let every test run start from a clean journal and no leftover state (the package
# itself is purged below, once the container runs). Before the package existed, this
# test installed regiond by hand: a rootfs from then has files no package owns, and a
# unit in /etc that would hide the package's.
rm -rf "$ROOTFS/var/log/journal"/* "$ROOTFS/var/lib/regiond"
rm -f "$ROOTFS/etc/systemd/system/regiond.service" "$ROOTFS/usr/bin/demo-fleet"
if ! grep -q '^Package: regiond$' "$ROOTFS/var/lib/dpkg/status"; then
    rm -rf "$ROOTFS/usr/bin/regiond" "$ROOTFS/usr/bin/regionctl" "$ROOTFS/usr/lib/sysusers.d/regiond.conf" \
        "$ROOTFS/usr/lib/tmpfiles.d/regiond.conf" "$ROOTFS/usr/lib/systemd/catalog/regiond.catalog" "$ROOTFS/etc/regiond"
fi

# No --bind of the toolchain: the package must bring what it needs. (Under TSan, only
# its symbolizer, which needs nothing but libc, libstdc++ and zlib.)
symbolizer=()
if [ -n "${TSAN_OPTIONS:-}" ]; then
    symbolizer=(--bind-ro="$(dirname "$(readlink -f "$(command -v swiftc)")")/llvm-symbolizer:/usr/local/bin/llvm-symbolizer")
fi
systemd-nspawn -q -b --register=no --keep-unit --private-network --machine="$MACHINE" -D "$ROOTFS" "${symbolizer[@]}" \
    >/tmp/regiond-nspawn.log 2>&1 &
NSPAWN=$!
cleanup() {
    kill "$NSPAWN" 2>/dev/null
    wait "$NSPAWN" 2>/dev/null
}
trap cleanup EXIT

# The container's init is nspawn's child; run commands in its namespaces.
# nspawn also forks short-lived helpers, so wait for the child that has become systemd.
leader=""
for _ in $(seq 1 300); do
    leader=$(pgrep -P "$NSPAWN" -x systemd | head -1)
    [ -n "$leader" ] && break
    sleep 0.1  # setup only: nspawn has not exec'd the container's init yet
done
if [ -z "$leader" ]; then
    cat /tmp/regiond-nspawn.log
    echo "0 passed, 1 failed"
    exit 1
fi
in_container() { nsenter -t "$leader" -m -u -i -n -p -- "$@"; }
apt_in_container() {  # apt_in_container ARGS...: apt-get as an operator runs it, its output only on failure
    local log
    log=$(timeout $((120 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" 2>&1) || {
        echo "$log"
        return 1
    }
}
# Wait for boot: is-system-running --wait returns once startup finished.
# (--wait blocks until boot finishes, but fails at once while systemd is not up yet.)
timeout $((90 * SLOW)) bash -c "until nsenter -t $leader -m -u -i -n -p -- systemctl is-system-running --wait >/dev/null 2>&1; do case \$(nsenter -t $leader -m -u -i -n -p -- systemctl is-system-running 2>/dev/null) in running|degraded) exit 0;; esac; sleep 0.2; done"
check "container booted" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl is-system-running | grep -qE 'running|degraded'"
# A run that stopped half-way may have left the package installed.
in_container dpkg --purge regiond >/dev/null 2>&1

# Install as an operator would. The rootfs has regiond's dependencies but no toolchain,
# and no network: apt must find everything it needs on the machine.
check "the rootfs has no Swift toolchain" bash -c "! nsenter -t $leader -m -u -i -n -p -- bash -c 'command -v swift || ls /opt/swift /usr/lib/swift' >/dev/null 2>&1"
check "apt install ./regiond_*.deb succeeds" apt_in_container install "$deb1"
check "the package created the regiond user and /var/lib/regiond (regiond, 0750)" \
    test "$(in_container stat -c '%U %G %a' /var/lib/regiond)" = "regiond regiond 750"
check "the service is enabled on install" test "$(in_container systemctl is-enabled regiond)" = enabled
check "the service runs on the packaged example config" test "$(in_container systemctl show -p ActiveState --value regiond)" = active
check "regiond and regionctl run without the toolchain" bash -c "nsenter -t $leader -m -u -i -n -p -- regionctl version | grep -q '^regionctl '"
check "the journal catalog is installed" bash -c "nsenter -t $leader -m -u -i -n -p -- journalctl --list-catalog 2>/dev/null | grep -qi '8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a23'"
check "the man pages and completions are installed" in_container test -f /usr/share/man/man8/regiond.8.gz -a -f /usr/share/man/man1/regionctl.1.gz \
    -a -f /usr/share/bash-completion/completions/regionctl -a -f /usr/share/zsh/vendor-completions/_regionctl -a -f /usr/share/fish/vendor_completions.d/regionctl.fish
exposure=$(in_container systemd-analyze security regiond 2>/dev/null | sed -n 's/.*Overall exposure level for regiond.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security regiond: ${exposure:-none}"
check "systemd-analyze security regiond is 2.0 or lower" awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# The test's config, edited in place as an operator would.
in_container install -m 0644 /etc/regiond-test/regiond.toml /etc/regiond/regiond.toml
in_container systemctl daemon-reload
in_container systemctl start demo-fleet
# A Type=notify (re)start returns only after READY=1 (or fails).
check "systemctl restart waits for READY=1 and succeeds" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl restart regiond
check "regiond is active" test "$(in_container systemctl show -p ActiveState --value regiond)" = active
check "StatusText shows the region summary" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl show -p StatusText --value regiond | grep -q '3 regions'"
check "the watchdog is armed" test "$(in_container systemctl show -p WatchdogUSec --value regiond)" = 30s
check "regionctl answers as root" bash -c "nsenter -t $leader -m -u -i -n -p -- regionctl status | grep -q 'eu-west'"
check "the socket belongs to the regiond user, mode 0660" test "$(in_container stat -c '%U %a' /run/regiond/control.sock)" = "regiond 660"
check "regiond.socket is enabled and listening" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl is-enabled regiond.socket | grep -qx enabled && nsenter -t $leader -m -u -i -n -p -- systemctl is-active -q regiond.socket"

# Statuses arrive in the journal with structured fields.
wait_journal() {  # wait_journal PATTERN [CURSOR]: until a journal line of regiond (after CURSOR) matches
    # (no pipefail here: journalctl -f ends by SIGPIPE once grep has its match)
    set +o pipefail
    timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- journalctl -u regiond -f -n all ${2:+--after-cursor=$2} -o json 2>/dev/null | grep -m1 -q -- "$1"
    local found=$?
    set -o pipefail
    return $found
}
journal_cursor() {  # the newest journal entry now: what wait_journal should look past
    in_container journalctl -n 1 -o export | sed -n 's/^__CURSOR=//p'
}
check "journal entry for eu-west turning healthy, with MESSAGE_ID" \
    wait_journal '"MESSAGE_ID":"8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a23".*"REGIOND_REGION":"eu-west"\|"REGIOND_REGION":"eu-west".*"MESSAGE_ID":"8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a23"'
entry=$(in_container journalctl -u regiond -o json MESSAGE_ID=8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a23 REGIOND_REGION=eu-west | head -1)
check "status entries carry REGIOND_STATUS, REGIOND_PREVIOUS_STATUS, REGIOND_REASON" \
    bash -c "grep -q '\"REGIOND_STATUS\"' <<<'$entry' && grep -q '\"REGIOND_PREVIOUS_STATUS\":\"unknown\"' <<<'$entry' && grep -q '\"REGIOND_REASON\"' <<<'$entry'"
check "journal priority of a status change is notice (5)" bash -c "grep -q '\"PRIORITY\":\"5\"' <<<'$entry'"

# Break a region once it is healthy: the journal and StatusText follow.
check "journal shows us-east healthy first" wait_journal '"REGIOND_REGION":"us-east".*"REGIOND_STATUS":"healthy"\|"REGIOND_STATUS":"healthy".*"REGIOND_REGION":"us-east"'
in_container bash -c 'exec 3<>/dev/tcp/127.0.0.1/18080; printf "POST /us-east/error HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" >&3; cat <&3 >/dev/null'
check "journal shows us-east leaving healthy" wait_journal '"REGIOND_PREVIOUS_STATUS":"healthy".*"REGIOND_REGION":"us-east"\|"REGIOND_REGION":"us-east".*"REGIOND_PREVIOUS_STATUS":"healthy"'
check "StatusText names the broken region" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl show -p StatusText --value regiond | grep -q 'us-east'"
mended=$(journal_cursor)
in_container bash -c 'exec 3<>/dev/tcp/127.0.0.1/18080; printf "POST /us-east/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" >&3; cat <&3 >/dev/null'
check "journal shows us-east healthy again once mended" \
    wait_journal '"REGIOND_REGION":"us-east".*"REGIOND_STATUS":"healthy"\|"REGIOND_STATUS":"healthy".*"REGIOND_REGION":"us-east"' "$mended"

# Restart and reload under load: 10 clients run `regionctl status` in a loop; none may
# fail. systemd holds the socket, so clients that connect while regiond restarts wait
# for the next one; a status the old one had no time to answer is asked again.
check "regiond serves the socket systemd holds" wait_journal 'control socket listening (held by systemd'
in_container rm -rf /run/status-loop
in_container mkdir -p /run/status-loop
cat >"$ROOTFS/etc/regiond-test/status-loop.sh" <<'LOOP'
#!/bin/bash
# status-loop.sh CLIENT: regionctl status until /run/status-loop/stop exists; writes the
# pid of each answering regiond and, at the end, "answered failed".
dir=/run/status-loop
ok=0 failed=0
until [ -e $dir/stop ]; do
    out=$(regionctl status 2>&1)
    status=$?
    if [ $status -eq 0 ]; then
        ok=$((ok + 1))
        sed -n '1s/.*, pid \([0-9]*\),.*/\1/p' <<<"$out" >>$dir/pids.$1
    else
        failed=$((failed + 1))
        echo "client $1 (exit $status): $out" >>$dir/errors
    fi
done
echo "$ok $failed" >$dir/result.$1
LOOP
loops=()
for c in $(seq 1 10); do
    in_container bash /etc/regiond-test/status-loop.sh "$c" &
    loops+=($!)
done
# Every client answered once before regiond is touched.
timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- bash -c 'until [ "$(ls /run/status-loop/ | grep -c "^pids\.")" -eq 10 ]; do sleep 0.1; done'
check "systemctl reload under load succeeds" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl reload regiond
check "systemctl restart under load succeeds" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl restart regiond
# Every client answered by the new regiond too, then stop.
new_pid=$(in_container systemctl show -p MainPID --value regiond)
check "every client was answered by the new regiond too" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- \
    bash -c "until [ \$(grep -lx '$new_pid' /run/status-loop/pids.* 2>/dev/null | wc -l) -eq 10 ]; do sleep 0.1; done"
in_container touch /run/status-loop/stop
wait "${loops[@]}"
results=$(in_container bash -c 'cat /run/status-loop/result.*' | awk '{ok += $1; failed += $2} END {print ok, failed}')
echo "# 10 clients through a reload and a restart: answered, failed = $results"
in_container cat /run/status-loop/errors 2>/dev/null | head -5 | sed 's/^/# /'
check "no client request failed through the reload and the restart" test "${results#* }" = 0
check "the clients saw two regionds (the loop spanned the restart)" \
    test "$(in_container bash -c 'cat /run/status-loop/pids.*' | sort -u | wc -l)" -ge 2

# A good reload, then a bad one that is rejected while the service stays up.
check "systemctl reload succeeds" timeout $((30 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl reload regiond
check "journal shows the reload" wait_journal '"REGIOND_EVENT":"config_reloaded"'
in_container bash -c 'echo "bogus = 1" >> /etc/regiond/regiond.toml'
check "systemctl reload fails on a bad config" bash -c "! nsenter -t $leader -m -u -i -n -p -- systemctl reload regiond 2>/dev/null"
check "a bad reload is logged with file and line" wait_journal '"REGIOND_EVENT":"reload_failed"'
check "StatusText says the reload failed" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl show -p StatusText --value regiond | grep -q 'reload failed: /etc/regiond/regiond.toml:'"
check "regiond is still active after a bad reload" test "$(in_container systemctl show -p ActiveState --value regiond)" = active

# Stop: STOPPING=1, exit 0, clean result.
check "systemctl stop succeeds" timeout $((30 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl stop regiond
check "regiond exited 0" test "$(in_container systemctl show -p ExecMainStatus --value regiond)" = 0
check "the stop result is success" test "$(in_container systemctl show -p Result --value regiond)" = success
# The config still has the bad line: start fails with 78, named in the journal, and is not retried.
in_container systemctl reset-failed regiond 2>/dev/null
check "a bad config fails to start" bash -c "! nsenter -t $leader -m -u -i -n -p -- systemctl start regiond 2>/dev/null"
check "a bad config exits 78 (EX_CONFIG)" test "$(in_container systemctl show -p ExecMainStatus --value regiond)" = 78
check "a bad config is not restarted in a loop" test "$(in_container systemctl show -p NRestarts --value regiond)" = 0
check "the journal names file, line and key" bash -c "nsenter -t $leader -m -u -i -n -p -- journalctl -u regiond -o cat | grep -q '/etc/regiond/regiond.toml:[0-9]*: region\[2\].endpoint\[1\].bogus: unknown key'"


# The operator fixes the config; regiond starts again, on the state it committed before.
in_container sed -i '/^bogus = 1$/d' /etc/regiond/regiond.toml
in_container systemctl reset-failed regiond 2>/dev/null
check "regiond starts again on the mended config" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl start regiond

# The watchdog, proven: a frozen regiond (SIGSTOP) sends no WATCHDOG=1, and systemd kills
# it with SIGABRT (then SIGCONT) and restarts it.
in_container mkdir -p /etc/systemd/system/regiond.service.d
in_container bash -c "printf '[Service]\nWatchdogSec=%ss\n' $((3 * SLOW)) >/etc/systemd/system/regiond.service.d/watchdog-test.conf"
in_container systemctl daemon-reload
in_container systemctl restart regiond
check_watchdog_restart() {  # check_watchdog_restart CASE CURSOR RESTARTS: what systemd must do next
    check "systemd kills the $1 regiond with SIGABRT" \
        wait_journal '"MESSAGE":"regiond.service: Main process exited, code=[a-z]*, status=6/ABRT"' "$2"
    check "systemd restarts the $1 regiond" wait_journal '"MESSAGE":"regiond.service: Scheduled restart job' "$2"
    check "NRestarts counts the restart of the $1 regiond" test "$(in_container systemctl show -p NRestarts --value regiond)" = $(($3 + 1))
    check "the restarted regiond is ready" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- \
        bash -c 'until systemctl is-active -q regiond; do sleep 0.2; done'
}
restarts=$(in_container systemctl show -p NRestarts --value regiond)
frozen=$(journal_cursor)
# (Never `kill -STOP 0`: with no main PID that would stop this script's process group.)
main_pid=$(in_container systemctl show -p MainPID --value regiond)
check "regiond has a main PID to freeze" test "${main_pid:-0}" -gt 0
[ "${main_pid:-0}" -gt 0 ] && in_container bash -c "kill -STOP $main_pid"
check "a frozen regiond hits the watchdog" wait_journal '"MESSAGE":"regiond.service: Watchdog timeout' "$frozen"
check_watchdog_restart "frozen" "$frozen" "$restarts"
# The other case: the process is alive and answers, but its supervisor has stopped
# making progress. The debug build's fault switch (SIGUSR2, Systemd/FaultSwitch.swift;
# not in release builds) stalls every region's evaluation; the liveness check then
# withholds WATCHDOG=1 and systemd aborts and restarts regiond.
if grep -q 'FAULT INJECTED' "$BIN/regiond"; then
    restarts=$(in_container systemctl show -p NRestarts --value regiond)
    stalled=$(journal_cursor)
    in_container systemctl kill -s SIGUSR2 --kill-who=main regiond
    check "the fault switch stalls the evaluations (debug build)" wait_journal 'FAULT INJECTED' "$stalled"
    check "a stalled supervisor withholds the watchdog" wait_journal 'region evaluation has stalled' "$stalled"
    check_watchdog_restart "stalled" "$stalled" "$restarts"
else
    echo "# skipped: the stalled-supervisor watchdog checks need the fault switch of a debug build ($BIN is not one)"
fi
in_container rm /etc/systemd/system/regiond.service.d/watchdog-test.conf
in_container systemctl daemon-reload
in_container systemctl restart regiond

# Upgrade to a rebuilt package: the service restarts on the new version and keeps the
# locally edited config, the committed plan (pinned, so it cannot drift meanwhile) and
# the history.
in_container regionctl pin --reason "upgrade test" >/dev/null
plan_before=$(in_container regionctl traffic | awk '$1 ~ /^(eu-west|us-east|ap-south)$/ {print $1, $2}')
first_event=$(in_container regionctl history --limit 10000 | head -1)
invocation=$(in_container systemctl show -p InvocationID --value regiond)
check "apt install of the upgrade succeeds" apt_in_container install "$deb2"
check "the new version is installed" bash -c "nsenter -t $leader -m -u -i -n -p -- dpkg-query -W -f '\${Version}' regiond | grep -q '+upgrade1$'"
check "the upgrade restarted regiond" test "$(in_container systemctl show -p InvocationID --value regiond)" != "$invocation"
check "regiond is active after the upgrade" test "$(in_container systemctl show -p ActiveState --value regiond)" = active
check "the locally edited config survived the upgrade" in_container grep -q '^# edited locally by the container test' /etc/regiond/regiond.toml
check "the plan survived the upgrade (pinned, same weights)" bash -c "
    out=\$(nsenter -t $leader -m -u -i -n -p -- regionctl traffic) &&
    grep -q '^PINNED' <<<\"\$out\" &&
    [ \"\$(awk '\$1 ~ /^(eu-west|us-east|ap-south)\$/ {print \$1, \$2}' <<<\"\$out\")\" = '$plan_before' ] && [ -n '$plan_before' ]"
check "the history survived the upgrade" bash -c "[ -n '$first_event' ] && nsenter -t $leader -m -u -i -n -p -- regionctl history --limit 10000 | grep -qxF '$first_event'"

# Remove keeps the config and the state; purge removes them.
check "apt remove succeeds" apt_in_container remove regiond
check "remove stopped regiond" bash -c "! nsenter -t $leader -m -u -i -n -p -- systemctl is-active -q regiond"
check "remove kept the config and the state database" in_container test -f /etc/regiond/regiond.toml -a -f /var/lib/regiond/regiond.sqlite
check "apt purge succeeds" apt_in_container purge regiond
check "purge removed the config and the state" bash -c "! nsenter -t $leader -m -u -i -n -p -- test -e /etc/regiond/regiond.toml -o -e /var/lib/regiond"
check "nothing of the package is left" bash -c "! nsenter -t $leader -m -u -i -n -p -- dpkg-query -W -f '\${Status}' regiond 2>/dev/null | grep -q installed"

# Under a sanitizer a report stops regiond (halt_on_error, abort_on_error) and systemd
# restarts it, which most checks above would not notice: the journal must have none.
if [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then
    reports=$(in_container journalctl -o cat --no-pager | grep -c 'WARNING: ThreadSanitizer\|ERROR: AddressSanitizer')
    check "no sanitizer report in the journal" test "${reports:-0}" -eq 0
fi

in_container systemctl poweroff >/dev/null 2>&1
for _ in $(seq 1 300); do
    kill -0 "$NSPAWN" 2>/dev/null || break
    sleep 0.1  # teardown only: the container is shutting down
done
cleanup
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Boots a real systemd (systemd-nspawn) with regiond installed from systemd/,
# and checks what an operator sees: Type=notify readiness, StatusText,
# structured journal fields, reload (good and bad), watchdog, clean stop.
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

# Install regiond the way a package would.
install -m 0755 "$BIN/regiond" "$BIN/regionctl" "$BIN/demo-fleet" "$ROOTFS/usr/bin/"
install -m 0644 systemd/regiond.service "$ROOTFS/etc/systemd/system/regiond.service"
install -D -m 0644 systemd/regiond.sysusers "$ROOTFS/usr/lib/sysusers.d/regiond.conf"
install -D -m 0644 systemd/regiond.tmpfiles "$ROOTFS/usr/lib/tmpfiles.d/regiond.conf"
install -D -m 0644 systemd/regiond.catalog "$ROOTFS/usr/lib/systemd/catalog/regiond.catalog"
# make test-sanitize runs this with sanitized binaries: give the unit the same sanitizer
# options as the test run (without them LeakSanitizer reports NIO's perpetual thread
# pool at exit and the clean stop reads as a failure). The rootfs is reused: a plain run
# removes the drop-in again.
dropin="$ROOTFS/etc/systemd/system/regiond.service.d/sanitizer.conf"
# The suppressions as the container sees them; every command this script runs there
# (regionctl through nsenter) inherits them. Nothing on the host side is instrumented.
tsan=${TSAN_OPTIONS:+$(echo "$TSAN_OPTIONS" | sed 's|suppressions=[^:]*|suppressions=/etc/regiond/tsan.supp|')}
if [ -n "$tsan" ]; then export TSAN_OPTIONS="$tsan"; fi
if [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then
    install -D -m 0644 Tests/sanitizers/tsan.supp "$ROOTFS/etc/regiond/tsan.supp"
    mkdir -p "$(dirname "$dropin")"
    {
        echo "[Service]"
        if [ -n "${ASAN_OPTIONS:-}" ]; then echo "Environment=ASAN_OPTIONS=$ASAN_OPTIONS"; fi
        if [ -n "$tsan" ]; then echo "Environment=TSAN_OPTIONS=$tsan"; fi
        # Sanitized binaries are several times slower to stop. ThreadSanitizer re-executes
        # itself with ASLR off (personality(2)), which LockPersonality= forbids.
        echo "TimeoutStopSec=60"
        echo "LockPersonality=no"
    } >"$dropin"
else
    rm -f "$dropin"
fi
# Short windows so statuses move within seconds.
sed -e 's|/tmp/regiond-demo/control.sock|/run/regiond/control.sock|' -e 's|/tmp/regiond-demo|/var/lib/regiond|' \
    etc/regiond/demo.toml >/tmp/regiond-container.toml
install -D -m 0644 /tmp/regiond-container.toml "$ROOTFS/etc/regiond/regiond.toml"
cat >"$ROOTFS/etc/systemd/system/demo-fleet.service" <<'UNIT'
[Unit]
Description=regiond demo fleet
[Service]
ExecStart=/usr/bin/demo-fleet --base-port 18080 --regions eu-west,us-east,ap-south
UNIT
# Let every test run start from a clean journal and no leftover state.
rm -rf "$ROOTFS/var/log/journal"/* "$ROOTFS/var/lib/regiond"

systemd-nspawn -q -b --register=no --keep-unit --private-network --machine="$MACHINE" -D "$ROOTFS" --bind-ro=/opt/swift \
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
# Wait for boot: is-system-running --wait returns once startup finished.
# (--wait blocks until boot finishes, but fails at once while systemd is not up yet.)
timeout $((90 * SLOW)) bash -c "until nsenter -t $leader -m -u -i -n -p -- systemctl is-system-running --wait >/dev/null 2>&1; do case \$(nsenter -t $leader -m -u -i -n -p -- systemctl is-system-running 2>/dev/null) in running|degraded) exit 0;; esac; sleep 0.2; done"
check "container booted" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl is-system-running | grep -qE 'running|degraded'"

in_container systemctl daemon-reload
in_container systemctl start demo-fleet
# A Type=notify start returns only after READY=1 (or fails).
check "systemctl start waits for READY=1 and succeeds" timeout $((60 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- systemctl start regiond
check "regiond is active" test "$(in_container systemctl show -p ActiveState --value regiond)" = active
check "StatusText shows the region summary" bash -c "nsenter -t $leader -m -u -i -n -p -- systemctl show -p StatusText --value regiond | grep -q '3 regions'"
check "the watchdog is armed" test "$(in_container systemctl show -p WatchdogUSec --value regiond)" = 30s
check "regionctl answers as root" bash -c "nsenter -t $leader -m -u -i -n -p -- regionctl status | grep -q 'eu-west'"
check "the socket belongs to the regiond user, mode 0660" test "$(in_container stat -c '%U %a' /run/regiond/control.sock)" = "regiond 660"

# Statuses arrive in the journal with structured fields.
wait_journal() {  # wait_journal PATTERN: until a journal line of regiond matches
    # (no pipefail here: journalctl -f ends by SIGPIPE once grep has its match)
    set +o pipefail
    timeout $((30 * SLOW)) nsenter -t "$leader" -m -u -i -n -p -- journalctl -u regiond -f -n all -o json 2>/dev/null | grep -m1 -q -- "$1"
    local found=$?
    set -o pipefail
    return $found
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

in_container systemctl poweroff >/dev/null 2>&1
for _ in $(seq 1 300); do
    kill -0 "$NSPAWN" 2>/dev/null || break
    sleep 0.1  # teardown only: the container is shutting down
done
cleanup
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

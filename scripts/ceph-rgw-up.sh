#!/usr/bin/env bash
# Single-node Ceph (mon + memstore OSD, no auth) + radosgw S3 endpoint on 127.0.0.1, for tests
# and benchmarks. Adapted from shared/tools/ceph-rgw-up.sh; differences:
#   * the daemons talk msgr2 (v2) only. Over msgr1, Ceph 16's MonClient reports "authenticated"
#     before the mon has sent its monmap, and until then its fsid is all zeros (the fsid of
#     ceph.conf does not survive the config bootstrap): a command sent in that window is refused
#     with "wrong fsid" (EPERM), seen as "Error EPERM: problem getting command descriptions from
#     mon" from the CLI or "mon_cmd_maybe_osd_create fail: 'wrong fsid'" from the OSD. A loaded
#     machine widens the window. Over msgr2 the MonClient waits for the monmap before it reports
#     authentication done, so no command leaves without the cluster's fsid;
#   * every daemon writes a pid file to DIR/run/ and gets the absolute config path, so the caller
#     can stop exactly what was started here (`ceph-rgw-up.sh --stop DIR`);
#   * every step is bounded in wall-clock time and a failure prints one line
#     `RGW_FAILED <step>: <cause>` (then the tail of the log that explains it) and exits non-zero:
#     3 missing binary, 4 a step failed, 5 a port was taken (the caller may retry on other ports);
#   * `--install` installs the Debian packages, waiting for other installers instead of failing;
#   * RGW garbage-collects overwritten objects within seconds (RAM-backed OSD).
# Needs: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common curl
# Usage: ceph-rgw-up.sh DIR          ->  prints "RGW_READY http://127.0.0.1:PORT test testsecret"
#        ceph-rgw-up.sh --stop DIR   ->  kills the daemons started for DIR
#        ceph-rgw-up.sh --install    ->  installs the packages if a binary is missing (root)
# Env:   RGW_PORT (7480), MON_PORT (6789), MEMSTORE_BYTES (2 GiB: the OSD keeps all data in RAM)
set -euo pipefail

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common curl)
# binary:package
BINARIES=(monmaptool:ceph-mon ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw
  radosgw-admin:radosgw ceph:ceph-common curl:curl)

missing_binaries() {
  local pair
  for pair in "${BINARIES[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || echo "${pair%%:*} (Debian package ${pair##*:})"
  done
}

stop_cluster() {
  local dir=$1 pidfile pid
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # Give them a moment, then make sure: a leftover OSD would hold gigabytes of RAM.
  for _ in $(seq 1 20); do
    local alive=0
    for pidfile in "$dir"/run/*.pid; do
      [ -e "$pidfile" ] || continue
      pid=$(cat "$pidfile" 2>/dev/null || true)
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && return 0
    sleep 0.25
  done
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
}

# apt_get ARGS...: apt-get, waiting (up to 10 min) while another apt or dpkg holds its locks:
# DPkg::Lock::Timeout covers dpkg's lock, but `apt-get update` fails at once on the lists lock.
apt_get() {
  local deadline=$((SECONDS + 600))
  until apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@" >>"$out" 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ] || ! tail -n 3 "$out" | grep -q "Could not get lock"; then
      return 1
    fi
    sleep 2
  done
}

install_packages() {
  # Two test runs starting at once on a fresh machine both find the binaries missing: the first
  # installs under this lock, the second waits for it and then finds nothing left to do. apt's
  # own lock timeouts cover any other apt/dpkg that runs meanwhile (unattended-upgrades...).
  local lock=/var/lock/memocall-ceph-install.lock
  exec 9>"$lock"
  if ! flock -w 1200 9; then
    echo "RGW_FAILED install: another installation still holds $lock after 20 min" >&2
    exit 4
  fi
  [ -z "$(missing_binaries)" ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  local out
  out=$(mktemp)
  if ! apt_get update || ! apt_get install -y --no-install-recommends "${PACKAGES[@]}"; then
    echo "RGW_FAILED install: apt-get could not install ${PACKAGES[*]}; last lines of its output:" >&2
    tail -n 30 "$out" >&2
    rm -f "$out"
    exit 4
  fi
  rm -f "$out"
  local still
  still=$(missing_binaries)
  if [ -n "$still" ]; then
    echo "RGW_FAILED install: still missing after apt-get install: $(echo $still)" >&2
    exit 3
  fi
}

case "${1:-}" in
--stop)
  stop_cluster "${2:?usage: ceph-rgw-up.sh --stop DIR}"
  exit 0
  ;;
--install)
  install_packages
  exit 0
  ;;
esac

C=${1:?usage: ceph-rgw-up.sh DIR}
PORT=${RGW_PORT:-7480}; MONPORT=${MON_PORT:-6789}

MISSING=$(missing_binaries)
if [ -n "$MISSING" ]; then
  echo "RGW_FAILED prerequisites: missing $(echo "$MISSING" | paste -sd, -)" >&2
  exit 3
fi

STEP_OUT=""
# Lines of a command's output or a daemon's log worth showing: no RocksDB option/stat dumps.
readable() { grep -avE '^\s*$|rocksdb:|^\s|^\*\*|^(Level|Priority|User|L[0-9]|Uptime|Flush|AddFile|Cumulative|Interval|Stalls|Sum|Int|-{5})' "$@" || true; }
fail() { # step cause [logfile]
  local code=4 cause=$2 evidence
  # The most telling error line of the step's output, else of the log it names.
  evidence=$(readable "$STEP_OUT" | grep -aiE "error|fail|unable|denied|not permitted|wrong" | tail -n 1)
  [ -z "$evidence" ] && [ -n "${3:-}" ] &&
    evidence=$(readable "$3" | grep -aE " -1 |error|Error" | tail -n 1)
  # A port taken between the caller's probe and our bind is the one failure worth a retry.
  if grep -aqsE "Address already in use" "$STEP_OUT" "${3:-/dev/null}"; then
    code=5 cause="$cause (a port was already in use)"
  fi
  echo "RGW_FAILED $1: $cause${evidence:+ -- ${evidence:0:300}}" >&2
  if [ -s "$STEP_OUT" ]; then
    echo "--- output of the failed command:" >&2
    readable "$STEP_OUT" | tail -n 15 >&2
  fi
  if [ -n "${3:-}" ] && [ -s "$3" ]; then
    echo "--- last lines of $3:" >&2
    readable "$3" | tail -n 20 >&2
  fi
  stop_cluster "$C"
  exit "$code"
}

# run STEP LOG CMD...: runs one bounded command; its output is kept for the failure message.
run() {
  local step=$1 log=$2
  shift 2
  echo "RGW_STEP ${SECONDS}s $step" >&2
  local rc=0
  "$@" >"$STEP_OUT" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    local cause="exit code $rc"
    [ "$rc" = 124 ] && cause="timed out"
    fail "$step" "$cause" "$log"
  fi
}

# wait_for STEP SECONDS LOG CMD...: retries a readiness probe until it succeeds or time is up.
wait_for() {
  local step=$1 seconds=$2 log=$3
  shift 3
  echo "RGW_STEP ${SECONDS}s $step" >&2
  local deadline=$((SECONDS + seconds))
  until "$@" >"$STEP_OUT" 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && fail "$step" "not ready after ${seconds} s" "$log"
    sleep 0.5
  done
}

rm -rf "$C"; mkdir -p "$C"/{mon.a,osd.0,run,log,rgw}; cd "$C"
STEP_OUT=$C/log/step.out
FSID=$(cat /proc/sys/kernel/random/uuid); OSDU=$(cat /proc/sys/kernel/random/uuid)
cat > ceph.conf <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MONPORT]
mon initial members = a
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind msgr2 = true
# radosgw's built-in default asks the mon for an encrypted ("secure") session, which auth none
# cannot provide; without this it keeps hunting for a mon (get_initial_auth_request returned -13).
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-2147483648}
run dir = $C/run
pid file = $C/run/\$name.pid
admin socket = $C/run/\$cluster-\$name.asok
log file = $C/log/\$name.log
keyring = /dev/null
[mon.a]
mon data = $C/mon.a
[osd.0]
osd data = $C/osd.0
host = localhost
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $C/rgw
# Free the tails of overwritten and deleted objects within seconds, not after the default 2 h:
# the memstore OSD holds every byte in RAM, and benchmarks overwrite 1 GiB objects repeatedly.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
EOF
CONF=$C/ceph.conf
MONLOG=$C/log/mon.a.log; OSDLOG=$C/log/osd.0.log; RGWLOG=$C/log/client.rgw.a.log
# Every client call is bounded; the CLI itself waits for the mon (connect timeout 30 s).
CEPH=(timeout 60 ceph -c "$CONF" --connect-timeout 30)

run "monmap" "" monmaptool --create --addv a "[v2:127.0.0.1:$MONPORT]" --fsid "$FSID" "$C/monmap"
run "ceph-mon --mkfs" "$MONLOG" timeout 60 ceph-mon -c "$CONF" --mkfs -i a --monmap "$C/monmap"
run "ceph-mon start (port $MONPORT)" "$MONLOG" timeout 60 ceph-mon -c "$CONF" -i a # daemonizes
run "ceph osd create" "$MONLOG" "${CEPH[@]}" osd create "$OSDU"
run "ceph-osd --mkfs" "$OSDLOG" timeout 60 ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSDU"
run "ceph osd crush add-bucket" "$MONLOG" "${CEPH[@]}" osd crush add-bucket localhost host
run "ceph osd crush move" "$MONLOG" "${CEPH[@]}" osd crush move localhost root=default
run "ceph osd crush add" "$MONLOG" "${CEPH[@]}" osd crush add osd.0 1.0 host=localhost
run "ceph-osd start" "$OSDLOG" timeout 60 ceph-osd -c "$CONF" -i 0 # daemonizes
osd_up() {
  local stat
  stat=$("${CEPH[@]}" osd stat) || return 1
  echo "$stat"
  [[ $stat == *"1 up"* ]]
}
wait_for "ceph-osd up" 90 "$OSDLOG" osd_up
run "radosgw start" "$RGWLOG" timeout 60 radosgw -c "$CONF" -n client.rgw.a # daemonizes
wait_for "radosgw answering on port $PORT" 120 "$RGWLOG" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"
# (radosgw-admin, a second client.rgw.a, says it cannot bind the daemon's admin socket: harmless.)
run "radosgw-admin user create" "$RGWLOG" timeout 60 radosgw-admin -c "$CONF" -n client.rgw.a \
  user create --uid=test --display-name=test --access-key=test --secret=testsecret
rm -f "$STEP_OUT"
echo "RGW_READY http://127.0.0.1:$PORT test testsecret"

#!/usr/bin/env bash
# Single-node Ceph (mon + memstore OSD, no auth) + radosgw S3 endpoint on 127.0.0.1, for tests
# and benchmarks. Adapted from shared/tools/ceph-rgw-up.sh; differences:
#   * every daemon writes a pid file to DIR/run/ and gets the absolute config path, so the caller
#     can stop exactly what was started here (`ceph-rgw-up.sh --stop DIR`);
#   * every wait is bounded and fails loudly naming the piece that did not come up (and the tail
#     of its log), instead of printing RGW_READY for a server that is not there;
#   * a missing binary is named with the Debian package that provides it;
#   * RGW garbage-collects overwritten objects within seconds (RAM-backed OSD).
# Needs: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
# Usage: ceph-rgw-up.sh DIR          ->  prints "RGW_READY http://127.0.0.1:PORT test testsecret"
#        ceph-rgw-up.sh --stop DIR   ->  kills the daemons started for DIR
# Env:   RGW_PORT (7480), MON_PORT (6789), MEMSTORE_BYTES (2 GiB: the OSD keeps all data in RAM)
set -euo pipefail

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

if [ "${1:-}" = "--stop" ]; then
  stop_cluster "${2:?usage: ceph-rgw-up.sh --stop DIR}"
  exit 0
fi

C=${1:?usage: ceph-rgw-up.sh DIR}
PORT=${RGW_PORT:-7480}; MONPORT=${MON_PORT:-6789}

need() { # binary package
  command -v "$1" >/dev/null 2>&1 || { echo "RGW_FAILED missing binary '$1' (Debian package $2)" >&2; exit 3; }
}
need monmaptool ceph-mon; need ceph-mon ceph-mon; need ceph-osd ceph-osd; need radosgw radosgw
need ceph ceph-common; need radosgw-admin radosgw; need curl curl

fail() { # piece logfile
  echo "RGW_FAILED $1 did not come up; last lines of $2:" >&2
  tail -n 30 "$2" >&2 2>/dev/null || true
  stop_cluster "$C"
  exit 4
}

rm -rf "$C"; mkdir -p "$C"/{mon.a,osd.0,run,log,rgw}; cd "$C"
FSID=$(cat /proc/sys/kernel/random/uuid); OSDU=$(cat /proc/sys/kernel/random/uuid)
cat > ceph.conf <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MONPORT
mon initial members = a
public network = 127.0.0.0/8
ms bind msgr2 = false
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
CEPH="timeout 30 ceph -c $CONF"
monmaptool --create --add a v1:127.0.0.1:$MONPORT --fsid "$FSID" monmap >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap monmap
ceph-mon -c "$CONF" -i a || fail ceph-mon "$C/log/mon.a.log"          # daemonizes
$CEPH osd create "$OSDU" >/dev/null || fail "ceph-mon (port $MONPORT)" "$C/log/mon.a.log"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSDU" 2>/dev/null
$CEPH osd crush add-bucket localhost host >/dev/null
$CEPH osd crush move localhost root=default >/dev/null
$CEPH osd crush add osd.0 1.0 host=localhost >/dev/null
ceph-osd -c "$CONF" -i 0 2>/dev/null || fail ceph-osd "$C/log/osd.0.log"  # daemonizes
up=0
for _ in $(seq 1 60); do $CEPH osd stat 2>/dev/null | grep -q "1 up" && { up=1; break; }; sleep 0.5; done
[ "$up" = 1 ] || fail ceph-osd "$C/log/osd.0.log"
radosgw -c "$CONF" -n client.rgw.a || fail radosgw "$C/log/client.rgw.a.log"  # daemonizes
up=0
for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && { up=1; break; }; sleep 0.5; done
[ "$up" = 1 ] || fail "radosgw (port $PORT)" "$C/log/client.rgw.a.log"
timeout 60 radosgw-admin -c "$CONF" -n client.rgw.a user create --uid=test --display-name=test \
  --access-key=test --secret=testsecret >/dev/null || fail "radosgw-admin user create" "$C/log/client.rgw.a.log"
echo "RGW_READY http://127.0.0.1:$PORT test testsecret"

#!/usr/bin/env bash
# multihost — a learner and two actors on three "hosts": network namespaces
# joined by veth pairs to a switch namespace (a bridge), each with its own
# address, no loopback between them. The actors join by address alone and
# training progresses; one actor's link is cut past actors.timeout_ms and
# restored, and it rejoins; the learner's link is cut and restored, and both
# actors rejoin; the learner then stops cleanly on SIGTERM.
#
#   tests/netns/multihost.sh [WORKDIR]     (root; from the repository root)
#
# Exit 0 on success, 1 on a failure (the learner's log is printed), 77 when
# network namespaces cannot be made here (the reason on stderr).
set -u
ROOT=$(pwd)
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" || { echo "multihost: cannot make $WORK" >&2; exit 1; }
TAG=vb$$
NS_SW=$TAG-sw NS_L=$TAG-l NS_A1=$TAG-a1 NS_A2=$TAG-a2
LOG=$WORK/learner.out
METRICS=$WORK/mh/metrics.jsonl
PIDS=()

skip() { echo "multihost: skipped: $*" >&2; exit 77; }
fail() {
    echo "multihost: FAILED: $*" >&2
    echo "---- learner log (last 40 lines)" >&2; tail -n 40 "$LOG" >&2 2>/dev/null
    for f in "$WORK"/actor-*.out; do echo "---- $f (last 10 lines)" >&2; tail -n 10 "$f" >&2; done
    exit 1
}
cleanup() {
    for p in "${PIDS[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
    for ns in $NS_L $NS_A1 $NS_A2 $NS_SW; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
[ -x "$ROOT/learner" ] && [ -x "$ROOT/actor" ] || skip "build ./learner and ./actor first"
ip netns add "$NS_SW" 2>/dev/null || skip "cannot create a network namespace ('ip netns add' failed)"
ip -n "$NS_SW" link add br0 type bridge 2>/dev/null || skip "cannot create a bridge in a namespace"
ip -n "$NS_SW" link set br0 up
ip -n "$NS_SW" link set lo up

# host NS at address 10.77.0.N, linked to the switch by veth "h" (host side)
# and "s<N>" (switch side)
host() {
    local ns=$1 n=$2
    ip netns add "$ns" || fail "ip netns add $ns"
    ip link add h$TAG$n type veth peer name s$TAG$n || fail "veth pair for $ns"
    ip link set h$TAG$n netns "$ns" && ip link set s$TAG$n netns "$NS_SW" || fail "moving veths"
    ip -n "$ns" link set h$TAG$n name eth0
    ip -n "$ns" addr add 10.77.0.$n/24 dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$NS_SW" link set s$TAG$n master br0
    ip -n "$NS_SW" link set s$TAG$n up
}
host "$NS_L" 1
host "$NS_A1" 2
host "$NS_A2" 3

link_state() { ip -n "$NS_SW" link set s$TAG$1 "$2"; }   # host N's link: down|up

# the number of lines of the learner's log holding $1
count() { local c; c=$(grep -c -- "$1" "$LOG" 2>/dev/null); echo "${c:-0}"; }
# wait until count($1) >= $2, at most $3 seconds
wait_log() {
    local end=$((SECONDS + $3))
    while [ "$(count "$1")" -lt "$2" ]; do
        [ $SECONDS -ge $end ] && fail "waited $3 s for $2 lines with '$1' (have $(count "$1"))"
        sleep 0.1
    done
}
updates() { tail -n 1 "$METRICS" 2>/dev/null | grep -o '"updates":[0-9]*' | cut -d: -f2; }
# wait until the updates counter passes $1 + $2, at most $3 seconds
wait_progress() {
    local end=$((SECONDS + $3)) want=$(($1 + $2)) u
    while :; do
        u=$(updates); u=${u:-0}
        [ "$u" -ge "$want" ] && return 0
        [ $SECONDS -ge $end ] && fail "training stalled: $u updates, waited $3 s for $want"
        sleep 0.1
    done
}

# CURVE across hosts: the learner admits the actor key in allowed_actors
"$ROOT/learner" --keygen "$WORK/keys" >/dev/null || fail "learner --keygen"

ip netns exec "$NS_L" "$ROOT/learner" --config "$ROOT/configs/smoke.yaml" --set run.root="$WORK" \
    --set run.name=mh --set run.algo=rl2 --set run.total_env_steps=1000000000 --set actors.local=0 \
    --set learner.bind=10.77.0.1 --set learner.keys="$WORK/keys" --set learner.port=5555 --set actors.heartbeat_ms=200 \
    --set actors.timeout_ms=1500 --set log.interval_s=0.2 >"$LOG" 2>&1 &
PIDS+=($!)
LPID=$!
for n in 1 2; do
    ns=$NS_A1; [ $n = 2 ] && ns=$NS_A2
    ip netns exec "$ns" "$ROOT/actor" --learner tcp://10.77.0.1:5555 --keys "$WORK/keys" --name remote-$n >"$WORK/actor-$n.out" 2>&1 &
    PIDS+=($!)
done

echo "multihost: learner on 10.77.0.1, actors on 10.77.0.2 and 10.77.0.3" >&2
wait_log "joined: 'remote-" 2 30
[ "$(grep "joined: 'remote-" "$LOG" | grep -c ', key ')" -ge 2 ] || fail "actors joined without their CURVE key"
wait_progress 0 20 60
echo "multihost: both actors joined; training" >&2

# one actor's link cut past actors.timeout_ms, then restored
u=$(updates)
link_state 2 down
wait_log "('remote-1' on " 1 30
link_state 2 up
wait_log "joined: 'remote-1'" 2 60
wait_progress "$u" 20 60
echo "multihost: remote-1 was cut off, left, and rejoined" >&2

# the learner's link cut, then restored: both actors come back
u=$(updates)
link_state 1 down
wait_log "left: silent" 3 30
link_state 1 up
wait_log "joined: 'remote-1'" 3 60
wait_log "joined: 'remote-2'" 2 60
wait_progress "$u" 20 60
echo "multihost: the learner was cut off; both actors rejoined" >&2

kill -TERM $LPID
for _ in $(seq 1 300); do kill -0 $LPID 2>/dev/null || break; sleep 0.1; done
kill -0 $LPID 2>/dev/null && fail "the learner did not stop within 30 s of SIGTERM"
wait $LPID
st=$?
[ $st = 0 ] || fail "the learner exited $st"
grep -q "final checkpoint in" "$LOG" || fail "no final checkpoint"
echo "multihost: passed" >&2
exit 0

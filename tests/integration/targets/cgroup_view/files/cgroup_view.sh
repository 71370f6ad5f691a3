#!/usr/bin/env bash
# A memory cgroup of its own (v1 or v2) near its limit, and a real OOM kill in it.
#   cgroup_view.sh fill NAME LIMIT MIB PIDFILE  make the group with LIMIT and start a process in it
#                                               that grows until the group's working set is MIB MiB;
#                                               prints "filler=<pid> working_set=<bytes>"
#   cgroup_view.sh oom NAME                     run a process in the group that grows until the OOM
#                                               killer takes it (oom_score_adj 1000: it goes first);
#                                               prints "victim=<pid> rc=<exit status>"
#   cgroup_view.sh clean NAME PIDFILE           kill the filler and remove the group
set -u
command=${1:?fill, oom or clean}
name=${2:?cgroup name}
if [ -d /sys/fs/cgroup/memory ]; then
  group=/sys/fs/cgroup/memory/$name usage=memory.usage_in_bytes inactive=total_inactive_file
else
  group=/sys/fs/cgroup/$name usage=memory.current inactive=inactive_file
fi
case "$command" in
  fill)
    limit=${3:?limit} mib=${4:?MiB} pidfile=${5:?pid file}
    mkdir -p "$group" || exit 1
    if [ -d /sys/fs/cgroup/memory ]; then
      # swappiness 0 keeps the group's pages out of swap; no memory+swap limit, whose hits
      # recent kernels (6.18 here) no longer count in memory.memsw.failcnt
      echo 0 > "$group/memory.swappiness" 2>/dev/null || true
      echo "$limit" > "$group/memory.limit_in_bytes" || exit 1
    else
      echo "$limit" > "$group/memory.max" || exit 1
      echo 0 > "$group/memory.swap.max" 2>/dev/null || true
    fi
    work=$(mktemp -d) || exit 1
    cat > "$work/fill.py" <<'PY'
import os, sys, time
group, usage, inactive, mib, ready = sys.argv[1:]


def working_set():
    with open(os.path.join(group, "memory.stat")) as stat:
        cache = next((int(line.split()[1]) for line in stat if line.split()[0] == inactive), 0)
    with open(os.path.join(group, usage)) as current:
        return int(current.read()) - cache


held = []
while working_set() < int(mib) << 20 and len(held) < 1024:
    held.append(b"x" * (1 << 20))
with open(ready + ".tmp", "w") as done:
    done.write("%d %d\n" % (os.getpid(), working_set()))
os.rename(ready + ".tmp", ready)
time.sleep(3600)
PY
    # shellcheck disable=SC2016  # $$ and $1 are the inner shell's: its own pid joins the group
    setsid bash -c 'echo $$ > "$1/cgroup.procs" && exec python3 "$0" "$@"' \
      "$work/fill.py" "$group" "$usage" "$inactive" "$mib" "$work/ready" </dev/null >/dev/null 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 100); do
      [ -s "$work/ready" ] && break
      sleep 0.1
    done
    read -r pid working_set < "$work/ready" || pid=$(cat "$pidfile") working_set=
    echo "$pid" > "$pidfile"
    echo "filler=$pid working_set=$working_set"
    rm -rf "$work"
    ;;
  oom)
    (
      echo "victim=$BASHPID"
      echo 1000 > /proc/self/oom_score_adj
      echo "$BASHPID" > "$group/cgroup.procs"
      exec python3 -c 'b = bytearray(b"x") * (200 << 20)'
    )
    echo "rc=$?"
    ;;
  clean)
    pidfile=${3:?pid file}
    if [ -s "$pidfile" ]; then
      kill -9 "$(cat "$pidfile")" 2>/dev/null
    fi
    for _ in $(seq 50); do
      [ -d "$group" ] || break
      rmdir "$group" 2>/dev/null && break
      sleep 0.1
    done
    [ ! -d "$group" ] || { echo "could not remove $group" >&2; exit 1; }
    ;;
  *)
    echo "unknown command $command" >&2
    exit 2
    ;;
esac

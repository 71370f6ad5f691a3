#!/usr/bin/env bash
# Makes one real OOM kill inside a memory cgroup of its own (v1 or v2) and
# removes the group again. Prints "victim=<pid> rc=<exit status>".
set -u
name=${1:?cgroup name}
limit=${2:-50M}
if [ -d /sys/fs/cgroup/memory ]; then
  group=/sys/fs/cgroup/memory/$name
  mkdir -p "$group"
  echo 0 > "$group/memory.swappiness" 2>/dev/null || true
  echo "$limit" > "$group/memory.limit_in_bytes"
  echo "$limit" > "$group/memory.memsw.limit_in_bytes" 2>/dev/null || true
else
  group=/sys/fs/cgroup/$name
  mkdir -p "$group"
  echo "$limit" > "$group/memory.max"
  echo 0 > "$group/memory.swap.max" 2>/dev/null || true
fi
trap 'rmdir "$group" 2>/dev/null' EXIT
(
  echo "victim=$BASHPID"
  echo "$BASHPID" > "$group/cgroup.procs"
  exec python3 -c 'b = bytearray(200 << 20)'
)
echo "rc=$?"

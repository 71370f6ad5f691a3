#!/usr/bin/env bash
# A process with pages in swap, in a memory cgroup of its own (v1 or v2),
# named after WORK.
#   hog.sh start WORK LIMIT SIZE_MIB   start it under LIMIT and wait until its data is written
#   hog.sh limit WORK LIMIT            set the limit (unlimited: "max"); waits for the swap-out
#   hog.sh check WORK                  prints intact or corrupt (its data against its digest)
#   hog.sh stop WORK
set -euo pipefail
action="$1" work="$2"
name="$(basename "$work")"
if [[ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]]; then
    cgroup="/sys/fs/cgroup/memory/$name" limit_file=memory.limit_in_bytes unlimited=-1
else
    cgroup="/sys/fs/cgroup/$name" limit_file=memory.max unlimited=max
fi
set_limit() { if [[ "$1" == max ]]; then echo "$unlimited"; else echo "$1"; fi > "$cgroup/$limit_file"; }
case "$action" in
    start)
        mkdir -p "$cgroup"
        set_limit "$3"
        rm -f "$work/hog.out" "$work/hog.out.ready"
        (echo "$BASHPID" > "$cgroup/cgroup.procs"; exec "${PYTHON:-python3}" "$(dirname "$0")/hog.py" "$4" "$work/hog.out") \
            </dev/null >/dev/null 2>&1 &
        echo $! > "$work/hog.pid"
        for _ in $(seq 120); do [[ -f "$work/hog.out.ready" ]] && exit 0; sleep 0.5; done
        echo "hog.sh: the hog did not get ready" >&2; exit 1 ;;
    limit)
        set_limit "$3"; sleep 1 ;;
    check)
        rm -f "$work/hog.out"
        kill -USR1 "$(cat "$work/hog.pid")"
        for _ in $(seq 60); do [[ -f "$work/hog.out" ]] && { cat "$work/hog.out"; echo; exit 0; }; sleep 0.5; done
        echo "hog.sh: no answer from the hog (killed?)" >&2; exit 1 ;;
    stop)
        kill -9 "$(cat "$work/hog.pid")" 2>/dev/null || true
        rm -f "$work/hog.pid"; sleep 0.5
        rmdir "$cgroup" 2>/dev/null || true ;;
esac

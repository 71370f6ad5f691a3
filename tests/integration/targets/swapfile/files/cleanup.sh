#!/usr/bin/env bash
# Put the host back as it was before the swapfile target: stop the memory
# hog, switch off every swap area under WORK, unmount everything under it,
# detach its loop devices, remove its memory cgroup (named after WORK) and
# WORK itself. Idempotent; touches nothing outside WORK and that cgroup.
#   cleanup.sh WORK
#
# swapoff can be refused for a while (ENOMEM) when another process's memory
# cgroup has pages in one of our swap files and cannot take them back, or
# under strict overcommit; it is retried for up to two minutes. A filesystem
# that still holds an active swap file is never unmounted (a lazy unmount
# would leave a swap area nobody can reach by path): it is left mounted and
# named, and the script fails.
set -u
work="${1:?usage: cleanup.sh WORK}"
case "$work" in /var/tmp/memops-it-swapfile-*) ;; *) echo "cleanup.sh: refusing to clean $work" >&2; exit 2 ;; esac
name="$(basename "$work")"

if [[ -f "$work/hog.pid" ]]; then
    kill -9 "$(cat "$work/hog.pid")" 2>/dev/null
    sleep 0.5
fi
ours() { tail -n +2 /proc/swaps | awk -v w="$work/" 'index($1, w) == 1 {print $1}'; }
for _ in $(seq 24); do
    left="$(ours)"
    [[ -z "$left" ]] && break
    for name in $left; do swapoff "$name" 2>/dev/null; done
    [[ -z "$(ours)" ]] && break
    sleep 5
done
left="$(ours)"
if [[ -n "$left" ]]; then
    echo "cleanup.sh: these swap files could not be switched off; their filesystems stay mounted:" >&2
    echo "$left" >&2
    echo "run 'swapoff FILE' once memory allows, then $0 $work again" >&2
    exit 1
fi
status=0
while read -r point; do
    umount "$point" || status=1
done < <(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r)
for image in "$work"/*.img; do
    [[ -e "$image" ]] || continue
    for device in $(losetup -j "$image" -O NAME -n); do
        losetup -d "$device" || status=1
    done
done
for cgroup in "/sys/fs/cgroup/memory/$name" "/sys/fs/cgroup/$name"; do
    [[ -d "$cgroup" ]] && { rmdir "$cgroup" || status=1; }
done
if [[ $status -eq 0 ]]; then
    rm -rf --one-file-system "$work" || status=1
fi
exit $status

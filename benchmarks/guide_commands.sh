#!/usr/bin/env bash
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Contender (a): the shell recipes of the "Cannot allocate memory" guide that
# show what memops.linux.mem_facts returns with gather_subset=all, run once
# each, as an operator would paste them. The loops are the guide's own, kept
# as written (one `cat` per file, so one fork per file), style included
# (useless cats, ls | grep, unquoted pids): they are what is measured.
# Output goes to stdout; the benchmark discards it and times the whole script.
# shellcheck disable=SC2002,SC2010,SC2086

# overview
free -h
cat /proc/meminfo

# processes: top consumers, RSS summed by name, PSS of the top consumers
ps aux --sort=-%mem | head -20
ps aux | awk '{mem[$11]+=$6} END {for (p in mem) print mem[p]/1024 " MB", p}' | sort -rn | head -20
for pid in $(ps -eo pid= --sort=-rss | head -20); do
    cat /proc/$pid/smaps 2>/dev/null | grep -E "^(Rss|Pss|Shared|Private)"
done

# oom: kernel log and the processes most likely to be killed
dmesg | grep -i "out of memory"
dmesg | grep -i "killed process"
journalctl -k | grep -i "oom"
grep oom_kill /proc/vmstat
for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    if [ -f /proc/$pid/oom_score ]; then
        name=$(cat /proc/$pid/comm 2>/dev/null)
        score=$(cat /proc/$pid/oom_score 2>/dev/null)
        echo "$score $pid $name"
    fi
done | sort -rn | head -20

# swap: areas and the processes using swap
swapon --show
cat /proc/swaps
grep -E '^pswp' /proc/vmstat
for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    if [ -f /proc/$pid/smaps ]; then
        swap=$(awk '/Swap:/{sum+=$2} END {print sum}' /proc/$pid/smaps 2>/dev/null)
        name=$(cat /proc/$pid/comm 2>/dev/null)
        if [ -n "$swap" ] && [ "$swap" -gt 0 ]; then
            echo "$swap $pid $name"
        fi
    fi
done | sort -rn | head -20

# tunables and commit accounting
cat /proc/sys/vm/swappiness
cat /proc/sys/vm/overcommit_memory
cat /proc/sys/vm/overcommit_ratio
cat /proc/sys/vm/vfs_cache_pressure
cat /proc/meminfo | grep -i commit
cat /sys/kernel/mm/transparent_hugepage/enabled
cat /sys/kernel/mm/transparent_hugepage/defrag

# slab
cat /proc/meminfo | grep -i slab
cat /proc/slabinfo | sort -k3 -rn | head -20
cat /proc/sys/fs/inode-nr
cat /proc/sys/fs/dentry-state

# fragmentation and pressure
cat /proc/buddyinfo
grep -E '^compact_(stall|fail|success)' /proc/vmstat
cat /proc/pressure/memory 2>/dev/null

# cgroup limits of this shell and what it may do
cat /proc/self/cgroup
memcg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
cat "/sys/fs/cgroup/memory${memcg}/memory.limit_in_bytes" 2>/dev/null
cat "/sys/fs/cgroup/memory${memcg}/memory.usage_in_bytes" 2>/dev/null
cat /sys/fs/cgroup/memory.max 2>/dev/null
id -u
grep CapEff /proc/self/status
exit 0

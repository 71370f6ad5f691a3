# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Synthetic hosts for the fleet report: memops facts shaped like mem_facts returns them.

Each host is built from a profile (healthy, low memory, swap exhausted, recent
OOM kill, leak, slab, Redis with THP always, ...) and gets its verdict from
the real diagnosis rules, so the report sees what a real fleet would give it.
Deterministic for a given seed. Shared by the report tests, the browser test
and benchmarks/report.
"""

from __future__ import annotations

import random

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis

GIB = 1 << 30
MIB = 1 << 20

# memory.breakdown's parts, in the order mem_facts gives them
BREAKDOWN_PARTS = ("process_anon", "page_cache", "shmem", "hugetlb", "slab", "kernel_other", "compressed_swap",
                   "unaccounted", "free")

PROFILES = ("healthy", "healthy", "healthy", "low_available", "swap_exhausted", "swap_high", "oom_recent",
            "leak", "slab", "redis_thp", "no_swap_small", "strict_overcommit", "jvm_unbounded")

_APPS = (("nginx", "www-data", "nginx: worker process"), ("postgres", "postgres", "postgres: checkpointer"),
         ("java", "app", "java -jar /opt/app/service.jar"), ("node", "app", "node /srv/api/server.js"),
         ("php-fpm", "www-data", "php-fpm: pool www"), ("python3", "app", "python3 -m worker --queue default"),
         ("mysqld", "mysql", "/usr/sbin/mysqld"), ("sshd", "root", "sshd: /usr/sbin/sshd -D"),
         ("systemd-journal", "root", "/lib/systemd/systemd-journald"), ("rsyslogd", "syslog", "/usr/sbin/rsyslogd -n"),
         ("containerd", "root", "/usr/bin/containerd"), ("memcached", "memcache", "/usr/bin/memcached -m 1024"))


# the systemd service each runs as, on a Debian host
_UNITS = {"nginx": "nginx.service", "postgres": "postgresql@15-main.service", "mysqld": "mariadb.service",
          "sshd": "ssh.service", "redis-server": "redis-server.service", "memcached": "memcached.service"}


def _proc(rng, pid, name, user, cmdline, total, rss=None, swap=0, oom_adj=0):
    rss = rss if rss is not None else rng.randint(20, 900) * MIB
    return {"pid": pid, "name": name, "cmdline": cmdline, "user": user, "rss_bytes": rss,
            "pss_bytes": int(rss * 0.9), "swap_bytes": swap, "oom_score": min(1000, int(1000 * rss / total) + 1),
            "oom_score_adj": oom_adj, "mem_pct": round(100.0 * rss / total, 2), "state": "S", "ppid": 1,
            "starttime": rng.randint(100, 900000)}


def _split(size, weights):
    """size in len(weights) whole parts, about as the weights say, summing to size exactly."""
    shares = [int(size * w / sum(weights)) for w in weights[:-1]]
    return shares + [size - sum(shares)]


def breakdown(profile, total, free, buff_cache, shared, slab_reclaimable, slab_unreclaimable):
    """memory.breakdown as mem_facts returns it, its parts summing to total, matching the host's other numbers
    (free, shmem, slab). A low memory host's RAM is held by one of processes, tmpfs, unused huge pages or memory
    no counter names. Its own random numbers, drawn from the host's: a fleet stays the same host for host."""
    rng = random.Random("%s/%d/%d/%d" % (profile, total, free, buff_cache))
    cause = rng.choice(("processes", "processes", "shmem", "hugetlb", "unaccounted")) if profile == "low_available" \
        else None
    parts = {"free": free, "shmem": shared, "page_cache": max(buff_cache - shared, 0),
             "slab": slab_reclaimable + slab_unreclaimable, "kernel_other": int(total * rng.uniform(0.01, 0.03)),
             "hugetlb": 0, "compressed_swap": 0, "unaccounted": int(total * rng.uniform(0.001, 0.01))}
    for name in ("page_cache", "slab", "kernel_other"):  # more than RAM (a slab host): the caches give way
        over = sum(parts.values()) - total
        if over > 0:
            parts[name] -= min(over, parts[name])
    rest = total - sum(parts.values())  # the processes', unless something else holds part of it
    if profile == "healthy" and rng.random() < 0.25:  # a database's huge page pool, mostly in use
        parts["hugetlb"] = int(rest * 0.4) // (2 * MIB) * (2 * MIB)
    elif rng.random() < 0.15:
        parts["compressed_swap"] = int(rest * rng.uniform(0.02, 0.1))
    held = int(rest * rng.uniform(0.6, 0.85)) if cause not in (None, "processes") else 0
    if cause == "shmem":
        parts["shmem"] += held
    elif cause == "hugetlb":
        parts["hugetlb"] += held // (2 * MIB) * (2 * MIB)
    elif cause == "unaccounted":
        parts["unaccounted"] += held
    parts["process_anon"] = total - sum(parts.values())
    page_cache = parts["page_cache"]
    dirty, mapped, locked, reclaimable = _split(page_cache, [0.02, 0.25, 0.0, 0.73])
    stack, tables, vmalloc, percpu, other = _split(parts["kernel_other"], [0.1, 0.35, 0.3, 0.05, 0.2])
    zswap, zram = _split(parts["compressed_swap"], [1.0, 0.0] if rng.random() < 0.5 else [0.0, 1.0])
    shm_size = max(total // 2, parts["shmem"])
    run = min(parts["shmem"], rng.randint(1, 30) * MIB)
    pools = []
    if parts["hugetlb"]:
        pages = parts["hugetlb"] // (2 * MIB)
        unused = pages * 4 // 5 if cause == "hugetlb" else pages // 20
        pools.append({"page_size_bytes": 2 * MIB, "total": pages, "free": unused, "reserved": 0, "surplus": 0,
                      "in_use_bytes": (pages - unused) * 2 * MIB, "unused_bytes": unused * 2 * MIB})
    return {
        "total_bytes": total,
        "parts": [{"name": name, "bytes": parts[name]} for name in BREAKDOWN_PARTS],
        "page_cache": {"reclaimable_bytes": reclaimable, "dirty_bytes": dirty, "mapped_bytes": mapped,
                       "locked_bytes": locked},
        "slab": {"reclaimable_bytes": min(slab_reclaimable, parts["slab"]),
                 "unreclaimable_bytes": parts["slab"] - min(slab_reclaimable, parts["slab"])},
        "kernel_other": {"kernel_stack_bytes": stack, "page_tables_bytes": tables, "vmalloc_bytes": vmalloc,
                         "percpu_bytes": percpu, "other_bytes": other},
        "shmem_mounts": [{"mount_point": "/dev/shm", "type": "tmpfs", "used_bytes": parts["shmem"] - run,
                          "size_bytes": shm_size},
                         {"mount_point": "/run", "type": "tmpfs", "used_bytes": run, "size_bytes": total // 10}],
        "hugetlb_pools": pools,
        "compressed_swap": {"zswap_bytes": zswap, "zram_bytes": zram},
    }


def host_facts(rng, profile, process_name=None, now_uptime=None):
    """memops facts (with health) for one synthetic host of the given profile."""
    total = rng.choice((2, 4, 8, 16, 32, 64, 128)) * GIB
    if profile == "no_swap_small":
        total = 2 * GIB
    uptime = now_uptime or float(rng.randint(4000, 9000000))
    available_pct = rng.uniform(30.0, 85.0)
    if profile == "low_available":
        available_pct = rng.uniform(0.8, 4.5)
    available = int(total * available_pct / 100)
    buff_cache = int(available * rng.uniform(0.3, 0.8))
    free = available - int(buff_cache * 0.8)
    swap_total = {"no_swap_small": 0}.get(profile, rng.choice((0, 2, 4, 8)) * GIB)
    if profile in ("swap_exhausted", "swap_high", "low_available") and not swap_total:
        swap_total = 4 * GIB
    swap_pct = {"swap_exhausted": rng.uniform(85, 99), "swap_high": rng.uniform(55, 75),
                "low_available": rng.uniform(60, 95)}.get(profile, rng.uniform(0, 10))
    swap_used = int(swap_total * swap_pct / 100)

    pid = rng.randint(300, 4000)
    rows = []
    apps = list(_APPS)
    rng.shuffle(apps)
    if process_name:
        apps.insert(0, (process_name, "app", process_name + " --serve"))
    if profile == "redis_thp":
        apps.insert(0, ("redis-server", "redis", "/usr/bin/redis-server 127.0.0.1:6379"))
    if profile == "jvm_unbounded":
        apps.insert(0, ("java", "app", "java -jar /opt/billing/billing.jar"))
    apps = apps[:10]
    # the processes hold most of the used swap between them, some much more than others
    weights = [rng.random() ** 2 for _app in apps]
    for (name, user, cmdline), weight in zip(apps, weights):
        pid += rng.randint(1, 400)
        swap = int(swap_used * 0.9 * weight / sum(weights))
        # critical services are protected, except where the profile says the OOM killer is at work
        adj = -500 if name in _diagnosis.DEFAULT_THRESHOLDS["critical_processes"] and profile != "oom_recent" else 0
        rss = total // 4 if name == process_name else None  # the named process is the top consumer
        rows.append(_proc(rng, pid, name, user, cmdline, total, rss=rss, swap=swap, oom_adj=adj))
    rows.sort(key=lambda r: -r["rss_bytes"])
    top_swap = sorted((r for r in rows if r["swap_bytes"]), key=lambda r: -r["swap_bytes"])
    workloads = {}
    for r in rows:
        entry = workloads.setdefault(r["name"], {"pids": [], "rss_bytes": 0, "min_oom_score_adj": r["oom_score_adj"],
                                                 "unit": _UNITS.get(r["name"])})
        entry["pids"].append(r["pid"])
        entry["rss_bytes"] += r["rss_bytes"]
    runtimes = []
    if profile == "jvm_unbounded":
        java = next(r for r in rows if r["cmdline"].endswith("billing.jar"))
        runtimes.append({"pid": java["pid"], "name": "java", "runtime": "jvm", "cmdline": java["cmdline"],
                         "heap_limit": None})

    events = []
    kill_count = 0
    if profile == "oom_recent":
        kill_count = rng.randint(1, 4)
        for i in range(kill_count):
            victim = rows[i % len(rows)]
            events.append({"uptime_seconds": uptime - rng.randint(60, 3000), "logged_at": "2026-11-26T1%d:%02d:00Z" % (
                i, rng.randint(0, 59)), "format": "modern", "scope": "system", "constraint": "CONSTRAINT_NONE",
                "memcg": None, "invoker": victim["name"], "order": 0,
                "victim": {"pid": victim["pid"], "name": victim["name"], "uid": 1000, "rss_bytes": victim["rss_bytes"],
                           "anon_rss_bytes": victim["rss_bytes"], "file_rss_bytes": 0, "shmem_rss_bytes": 0,
                           "total_vm_bytes": victim["rss_bytes"] * 3, "pgtables_bytes": 1 << 20, "oom_score_adj": 0}})

    samples = None
    if profile == "leak":
        leaker = rows[0]
        start = leaker["rss_bytes"]
        series = [start + i * rng.randint(40, 90) * MIB for i in range(3)]
        samples = {"count": 3, "interval": 5.0, "window_seconds": 10.0,
                   "growth": [{"pid": leaker["pid"], "name": leaker["name"], "starttime": leaker["starttime"],
                               "rss_series": series, "growth_bytes": series[-1] - series[0]}]}

    unreclaimable = int(total * (rng.uniform(12, 30) if profile == "slab" else rng.uniform(0.5, 2)) / 100)
    strict = profile == "strict_overcommit"
    limit = int(total * 0.5 + swap_total)
    committed = int(limit * (rng.uniform(0.86, 0.99) if strict else rng.uniform(0.1, 0.6)))
    shared = rng.randint(1, 400) * MIB
    facts = {
        "uptime_seconds": uptime,
        "memory": {"total_bytes": total, "used_bytes": total - available, "free_bytes": free,
                   "shared_bytes": shared, "buffers_bytes": buff_cache // 10,
                   "cached_bytes": buff_cache - buff_cache // 10, "buff_cache_bytes": buff_cache,
                   "available_bytes": available, "available_estimated": False,
                   "available_pct": round(available_pct, 2), "used_pct": round(100 - available_pct, 2),
                   "free_pct": round(100.0 * free / total, 2), "page_size": 4096,
                   "breakdown": breakdown(profile, total, free, buff_cache, shared, unreclaimable, unreclaimable)},
        "swap": {"total_bytes": swap_total, "used_bytes": swap_used, "free_bytes": swap_total - swap_used,
                 "used_pct": round(swap_pct, 1) if swap_total else 0.0, "cached_bytes": 0,
                 "devices": [{"path": "/swapfile", "type": "file", "size_bytes": swap_total, "used_bytes": swap_used,
                              "priority": -2, "deleted": False}] if swap_total else [],
                 "pswpin": rng.randint(0, 10000), "pswpout": rng.randint(0, 100000)},
        "processes": {"count": rng.randint(80, 900), "top_rss": rows, "top_pss": rows, "top_swap": top_swap,
                      "top_oom_score": sorted(rows, key=lambda r: -r["oom_score"]), "workloads": workloads,
                      "runtimes": runtimes, "vanished": 0, "access_denied": 0},
        "oom": {"kill_count": kill_count, "kill_count_available": True, "events": events,
                "recent_events": list(events)},
        "tunables": {"vm": {"swappiness": rng.choice((10, 60)), "overcommit_memory": 2 if strict else 0, "overcommit_ratio": 50},
                     "thp": {"enabled": {"selected": "always" if profile == "redis_thp" else "madvise"}}},
        "commit": {"strict": strict, "limit_bytes": limit, "committed_as_bytes": committed,
                   "committed_pct_of_limit": round(100.0 * committed / limit, 2), "overcommit_ratio": 50},
        "slab": {"total_bytes": unreclaimable * 2, "reclaimable_bytes": unreclaimable,
                 "unreclaimable_bytes": unreclaimable, "top_caches": [
                     {"name": "kmalloc-2k", "size_bytes": unreclaimable // 3}, {"name": "dentry", "size_bytes": unreclaimable // 4}],
                 "dentries": {"nr_dentry": 15000, "nr_negative": 2000}, "inodes": {"nr_inodes": 12000}},
        "pressure": {"available": True, "some": {"avg10": 0.0}, "full": {"avg10": 0.0}},
    }
    if samples:
        facts["samples"] = samples
    facts["health"] = _diagnosis.diagnose(facts)
    return facts


def fleet_facts(count, seed=1, prefix="host", profiles=PROFILES):
    """{name: facts} for count synthetic hosts, profiles in turn."""
    rng = random.Random(seed)
    hosts = {}
    for index in range(count):
        profile = profiles[index % len(profiles)]
        hosts["%s%04d.%s.example.com" % (prefix, index, profile.replace("_", "-"))] = host_facts(rng, profile)
    return hosts

#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mem_facts
short_description: Gather the memory picture of a Linux host
version_added: 0.1.0
description:
  - Reads C(/proc) and C(/sys) once and returns, structured, what the
    C(free -h), C(/proc/meminfo), C(ps aux --sort=-%mem), C(dmesg | grep -i oom),
    C(swapon --show), C(oom_score), C(smaps), C(slabinfo), C(buddyinfo) and
    C(sysctl vm) recipes of a manual memory diagnosis show.
  - Needs only the Python standard library on the managed node.
  - Processes that exit or deny access while being read are counted, never fatal.
    Proportional set size (PSS) is read only for the largest consumers, since it
    costs a walk of the process page tables.
  - Sizes are always bytes.
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
  - memops.linux._roots
  - memops.linux._roots.sys_root
  - memops.linux._attributes.FACTS
  - memops.linux._attributes.INFO_MODULE
  - memops.linux._attributes.LINUX
  - memops.linux._leak_history
  - memops.linux._mem_facts_inputs
  - memops.linux._captures
  - memops.linux._process_detail
options:
  gather_subset:
    description:
      - What to gather. V(all) or any of V(overview) (published as RV(ansible_facts.memops.memory)),
        V(swap), V(processes), V(oom), V(tunables), V(commit), V(slab), V(fragmentation),
        V(pressure), V(cgroup), V(capabilities).
      - Prefix a name with C(!) to leave it out, for example C(['all', '!processes']).
    type: list
    elements: str
    default: [all]
  top:
    description:
      - How many entries the top-N lists (processes, process names, slab caches, recent OOM events, shared memory mounts) hold.
    type: int
    default: 10
  samples:
    description:
      - How many times to sample process RSS and the swap-in/out counters, O(sample_interval) apart.
        With more than one sample, steadily growing processes are reported as leak suspects and swap
        traffic is measured. V(1) takes a single snapshot; at most V(1000).
    type: int
    default: 1
  sample_interval:
    description:
      - Seconds between samples, from V(0) to V(3600) (one hour); V(nan) and V(inf) are refused.
    type: float
    default: 5.0
  redact:
    description:
      - Regular expressions (Python) searched in every command line the facts hold (C(cmdline) of the
        processes and workloads, and the evidence of findings that quote one); the text each one's first
        group matches (or the whole match, without a group) becomes C(<redacted>) before the facts leave the
        host.
      - Unset, the defaults hide the values of arguments whose name looks like a secret (C(--password=VALUE),
        C(--token VALUE), C(--api-key=VALUE), C(--requirepass VALUE)), C(KEY=VALUE) words whose KEY looks
        like one (C(DB_PASSWORD=VALUE), C(AWS_SECRET_ACCESS_KEY=VALUE)), bearer and basic credentials and the
        password of a URL (C(https://user:VALUE@host)).
      - Give a list to use those patterns instead (include the defaults again if they are wanted too); V([])
        keeps command lines whole. A pattern that does not compile fails the task.
    type: list
    elements: str
notes:
  - The module fails when C(meminfo) has no C(MemTotal) line in kB (binary, unit-less, out of range or missing),
    since without the size of RAM the memory cannot be judged. A number no 64-bit kernel counter can hold is skipped
    as a parse error and said in RV(ansible_facts.memops.notes); NaN and infinity (a corrupt C(pressure/memory)
    or C(uptime)) are left out or returned as V(null), so the facts are always standard JSON.
  - The C(oom_kill) counter needs kernel 4.13 or later; older kernels return V(null) for it.
  - Without C(smaps_rollup) (kernels before 4.14) PSS is summed from C(smaps).
  - When C(/proc) is mounted with C(hidepid) and the module does not run as root,
    only the user's own processes are visible; C(partial_view) in RV(ansible_facts.memops.processes) says so.
seealso:
  - name: proc(5)
    description: The files this module reads.
    link: https://man7.org/linux/man-pages/man5/proc.5.html
"""

EXAMPLES = r"""
- name: Gather the whole memory picture
  memops.linux.mem_facts:

- name: Show available memory
  ansible.builtin.debug:
    msg: "{{ ansible_facts.memops.memory.available_bytes | human_readable }} available"

- name: Only swap and OOM information, top 5
  memops.linux.mem_facts:
    gather_subset: [swap, oom]
    top: 5

- name: Everything but the per-process scan
  memops.linux.mem_facts:
    gather_subset: ['all', '!processes']

- name: Sample three times, 5 seconds apart, to find growing processes, with a stricter low-memory line
  memops.linux.mem_facts:
    samples: 3
    sample_interval: 5
    thresholds:
      available_pct_low: 10

- name: Fail when the host is critical
  ansible.builtin.assert:
    that: ansible_facts.memops.health.status != 'critical'
    fail_msg: "{{ ansible_facts.memops.health.findings | map(attribute='title') | list }}"

- name: Diagnose a host from its sosreport (directory or tarball), on the machine holding it
  memops.linux.mem_facts:
    sosreport: /cases/1234/sosreport-web01-2026-12-04-abcdef.tar.xz

- name: Read the OOM history from a saved, rotated kernel log
  memops.linux.mem_facts:
    kernel_log_path: /var/log/kern.log.2.gz

- name: Inspect the host from a container that mounts its procfs at /host/proc
  memops.linux.mem_facts:
    proc_root: /host/proc
    sys_root: /host/sys
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    memops:
      description: The memory picture, one key per gathered subset plus RV(ansible_facts.memops.notes).
      returned: always
      type: dict
      contains:
        memory:
          description:
            - The C(free) overview. C(used_bytes) is C(total - available), as procps-ng 4 computes it;
              C(cached_bytes) includes reclaimable slab, as C(free) does.
            - C(meminfo) holds every C(/proc/meminfo) line (kB values in bytes, C(HugePages_*) as counts).
          returned: when overview is gathered
          type: dict
          sample:
            total_bytes: 25276502016
            used_bytes: 386101248
            free_bytes: 23127224320
            shared_bytes: 9084928
            buffers_bytes: 38404096
            cached_bytes: 2010558464
            buff_cache_bytes: 2048962560
            available_bytes: 24890400768
            available_estimated: false
            available_pct: 98.47
            used_pct: 1.53
            free_pct: 91.5
            page_size: 4096
            hugepages: {total: 0, free: 0, size_bytes: 2097152, hugetlb_bytes: 0}
            anon_hugepages_bytes: 0
            meminfo: {MemTotal: 25276502016}
          contains:
            breakdown:
              description:
                - Where the memory went (C(docs/breakdown.md)). MemTotal split into C(parts) that sum to it
                  exactly, with the details of each part. The name of a part is its stable id.
                - The C(unaccounted) part is what MemTotal holds beyond every kernel counter (drivers, a balloon
                  driver, the ZFS ARC, GPU memory), never negative. When the counters, read one after another,
                  add up to more than MemTotal, the excess (C(overcount_bytes)) is taken off the parts, processes
                  first.
              returned: when overview is gathered and /proc/meminfo has MemTotal
              type: dict
              contains:
                total_bytes:
                  description: MemTotal.
                  returned: always
                  type: int
                  sample: 25275973632
                parts:
                  description:
                    - The parts, always all of them in this order, each C(name) and C(bytes) (0 or more).
                    - V(process_anon) (anonymous memory of processes, mlocked and in the swap cache included),
                      V(page_cache) (file pages, Buffers and Cached less Shmem), V(shmem) (shared memory and tmpfs),
                      V(hugetlb) (hugetlb pools of every page size, used or not), V(slab), V(kernel_other) (kernel
                      stacks, page tables, vmalloc, per-cpu and other kernel memory), V(compressed_swap) (zswap pool,
                      zram devices), V(unaccounted), V(free) (MemFree).
                  returned: always
                  type: list
                  elements: dict
                  sample:
                    - {name: process_anon, bytes: 426086400}
                    - {name: page_cache, bytes: 832577536}
                    - {name: shmem, bytes: 9887744}
                    - {name: hugetlb, bytes: 0}
                    - {name: slab, bytes: 88379392}
                    - {name: kernel_other, bytes: 20529152}
                    - {name: compressed_swap, bytes: 0}
                    - {name: unaccounted, bytes: 128376832}
                    - {name: free, bytes: 23770136576}
                overcount_bytes:
                  description: By how much the counters added up beyond MemTotal (0 on most reads); taken off the parts.
                  returned: always
                  type: int
                  sample: 0
                page_cache:
                  description:
                    - The C(page_cache) part split by what the kernel can give back at once (C(reclaimable_bytes))
                      and what it cannot without work, dirty or under writeback (C(dirty_bytes)), mapped by a
                      process (C(mapped_bytes)), unevictable (C(locked_bytes), ramfs and mlocked files). They sum
                      to the part.
                  returned: always
                  type: dict
                  sample: {reclaimable_bytes: 795975680, dirty_bytes: 3043328, mapped_bytes: 33554432, locked_bytes: 4096}
                slab:
                  description: The C(slab) part, SReclaimable and SUnreclaim.
                  returned: always
                  type: dict
                  sample: {reclaimable_bytes: 57319424, unreclaimable_bytes: 31059968}
                kernel_other:
                  description:
                    - The C(kernel_other) part. C(vmalloc_bytes) is VmallocUsed less the kernel stacks (counted
                      in both since kernel 5.3; 0 before 4.4, when VmallocUsed was address space);
                      C(other_bytes) is SecPageTables, KReclaimable beyond SReclaimable, Bounce and WritebackTmp.
                  returned: always
                  type: dict
                  sample: {kernel_stack_bytes: 1966080, page_tables_bytes: 4255744, vmalloc_bytes: 13103104,
                           percpu_bytes: 1204224, other_bytes: 0}
                compressed_swap:
                  description: The C(compressed_swap) part, the zswap pool (Zswap) and the RAM of the zram devices (mm_stat's mem_used_total).
                  returned: always
                  type: dict
                  sample: {zswap_bytes: 0, zram_bytes: 0}
                shmem_mounts:
                  description:
                    - The tmpfs, devtmpfs and ramfs mounts holding data, largest first, each file system once (bind
                      mounts left out), as many as O(top); C(used_bytes) and C(size_bytes) (the C(size=) limit) are
                      V(null) where the file system does not say (ramfs, tmpfs without a limit).
                    - Read on the live system only (O(proc_root) is V(/proc)); empty otherwise.
                  returned: always
                  type: list
                  elements: dict
                  sample:
                    - {mount_point: /dev/shm, type: tmpfs, used_bytes: 1073741824, size_bytes: 12637986816}
                shmem_mounts_not_read:
                  description: Why C(shmem_mounts) is empty when the mounts could not be read, else V(null).
                  returned: always
                  type: str
                  sample: null
                hugetlb_pools:
                  description:
                    - The hugetlb pools that have pages, one per page size, smallest page first, from
                      C(/sys/kernel/mm/hugepages). C(total), C(free), C(reserved) and C(surplus) are page counts;
                      C(unused_bytes) are the free pages no mapping has reserved (lowering the pool frees them at
                      once), C(in_use_bytes) the rest of the pool.
                  returned: always
                  type: list
                  elements: dict
                  sample:
                    - {page_size_bytes: 2097152, total: 256, free: 256, reserved: 0, surplus: 0, in_use_bytes: 0,
                       unused_bytes: 536870912}
                unaccounted_evidence:
                  description:
                    - What may hold the C(unaccounted) part. C(balloon_bytes) is meminfo's Balloon (V(null) without the
                      line), C(zfs_arc_bytes) the ZFS ARC's size from C(/proc/spl/kstat/zfs/arcstats) (V(null) without
                      ZFS), C(drivers) the loaded modules known to hold memory outside the counters (balloon, ZFS,
                      GPU drivers).
                  returned: always
                  type: dict
                  sample: {balloon_bytes: 0, zfs_arc_bytes: null, drivers: []}
        swap:
          description: Swap totals, each active swap area from C(/proc/swaps), and the swap-in/out page counters.
          returned: when swap is gathered
          type: dict
          sample:
            total_bytes: 4294967296
            used_bytes: 3758096384
            free_bytes: 536870912
            used_pct: 87.5
            cached_bytes: 1048576
            devices:
              - {path: /swapfile, type: file, size_bytes: 4294963200, used_bytes: 3758096384, priority: -2, deleted: false}
            pswpin: 1200
            pswpout: 98000
        processes:
          description:
            - Counts and top lists. Every process entry has C(pid), C(name), C(cmdline), C(user),
              C(rss_bytes), C(pss_bytes) (V(null) when not measured), C(swap_bytes), C(oom_score),
              C(oom_score_adj), C(mem_pct) (RSS against RAM), C(state), C(ppid), C(starttime) (clock ticks after boot).
            - C(by_name) sums RSS and swap per process name.
            - C(vanished) counts processes whose C(/proc/<pid>) directory went away while being read,
              C(access_denied) those that could not be read. A process whose directory lacks some of the files
              read (old kernels, captured trees) is counted with what could be read (V(null) for the rest)
              and said in RV(ansible_facts.memops.notes).
            - C(excluded_pids) lists the module's own process and the Ansible processes that started it
              (the shell, and the controller on a local connection); they are left out of counts and lists.
            - C(workloads) maps each watched workload name (databases, caches, runtimes) that runs to its C(count),
              C(pids) (ten at most), summed C(rss_bytes), lowest C(min_oom_score_adj), and the systemd C(unit) it
              runs as (from its cgroup; V(null) outside a service), the value the memops.linux.oom_protect role's
              C(oom_protect_services) takes.
            - C(runtimes) lists the JVMs and Node.js processes with their heap limit, read from the command line
              and from C(JAVA_TOOL_OPTIONS), C(JDK_JAVA_OPTIONS), C(_JAVA_OPTIONS) or C(NODE_OPTIONS);
              C(heap_limit) (the flag as written), C(heap_limit_bytes), C(heap_limit_source) (V(flag),
              V(percentage) for C(-XX:MaxRAMPercentage), V(default) for the JVM's default share of RAM, or
              V(null) when the runtime sizes its heap itself), and C(memory_limit_bytes), the memory limit of
              its cgroup, or of the nearest group above it that has one (V(null) without one).
          returned: when processes is gathered
          type: dict
          sample:
            count: 212
            excluded_pids: [4410, 4409]
            kernel_threads: 96
            vanished: 1
            access_denied: 0
            hidepid: null
            partial_view: false
            rss_bytes_total: 4000000000
            swap_bytes_total: 0
            top_rss:
              - {pid: 1234, name: mysqld, cmdline: /usr/sbin/mysqld, user: mysql, rss_bytes: 2147483648,
                 pss_bytes: 2100000000, swap_bytes: 0, oom_score: 690, oom_score_adj: 0, mem_pct: 8.5,
                 state: S, ppid: 1, starttime: 1200}
            top_pss: []
            top_swap: []
            top_oom_score: []
            by_name:
              - {name: php-fpm, count: 32, rss_bytes: 3221225472, swap_bytes: 0, mem_pct: 12.7}
            workloads:
              postgres: {count: 9, pids: [812, 840], rss_bytes: 1288490188, min_oom_score_adj: -900,
                         unit: postgresql@15-main.service}
            runtimes:
              - {pid: 2211, name: java, runtime: jvm, heap_limit: -Xmx4g, heap_limit_bytes: 4294967296,
                 heap_limit_source: flag, memory_limit_bytes: null, rss_bytes: 3900000000,
                 cmdline: java -Xmx4g -jar app.jar}
        oom:
          description:
            - C(kill_count) is the C(oom_kill) counter of C(/proc/vmstat) (kills since boot; V(null) before kernel 4.13).
            - C(log_source) is where the kernel log was read from, V(kmsg), V(dmesg), V(journal), V(tree) (the
              C(dmesg) file of a captured tree, C(log_path)), V(file) (O(kernel_log_path), or a sosreport's log)
              or V(none); C(log_path) is the file read, V(null) for the live host.
            - C(log_readable) says whether the kernel log could be read; C(log_skipped) is V(true) when
              O(kernel_log=none) asked not to read it (the verdict is then not marked partial for it).
            - C(events) are the OOM kills still in the kernel log, oldest first, each with its C(victim)
              (C(pid), C(name), C(uid), C(rss_bytes), C(anon_rss_bytes), C(file_rss_bytes), C(shmem_rss_bytes),
              C(total_vm_bytes), C(pgtables_bytes), C(oom_score_adj)), C(constraint) (of the C(oom-kill:) line,
              V(null) on kernels before 4.19), C(scope) (V(system) or V(memcg)), C(memcg), C(invoker), C(order),
              when it happened, and C(notes) (the values left out, digit-grouped, wrapped or cut, and why).
          returned: when oom is gathered
          type: dict
          sample:
            kill_count: 1
            kill_count_available: true
            log_source: kmsg
            log_path: null
            log_readable: true
            log_skipped: false
            events:
              - {uptime_seconds: 5120.33, logged_at: "2026-11-26T13:40:02Z", format: modern, scope: memcg,
                 constraint: CONSTRAINT_MEMCG, memcg: /oomtest, task_memcg: /oomtest, memcg_usage_bytes: 52428800,
                 memcg_limit_bytes: 52428800, invoker: python3, gfp_mask: 0xcc0(GFP_KERNEL), order: 0,
                 victim: {pid: 4242, name: python3, uid: 0, rss_bytes: 52000768, anon_rss_bytes: 51000000,
                          file_rss_bytes: 1000768, shmem_rss_bytes: 0, total_vm_bytes: 220000000,
                          pgtables_bytes: 151552, oom_score_adj: 0}, notes: []}
            recent_events: []
        tunables:
          description:
            - Every readable C(/proc/sys/vm) value (integers where they are numbers), C(fs) inode, dentry and
              file counters, transparent huge pages (selected and allowed values as the running kernel offers them,
              including per-size C(sizes) on kernels with multi-size THP) and KSM.
          returned: when tunables is gathered
          type: dict
          sample:
            vm: {swappiness: 60, overcommit_memory: 0, overcommit_ratio: 50, vfs_cache_pressure: 100}
            fs: {inode_nr: [12631, 0], dentry_state: [15642, 14274, 45, 0, 2854, 0], file_nr: [1024, 0, 9223372036854775807]}
            thp:
              available: true
              path: /sys/kernel/mm/transparent_hugepage
              enabled: {selected: madvise, allowed: [always, madvise, never]}
              defrag: {selected: madvise, allowed: [always, defer, defer+madvise, madvise, never]}
              khugepaged_defrag: {selected: "1", allowed: []}
              sizes: {2048kB: {selected: inherit, allowed: [always, inherit, madvise, never]}}
            ksm: {available: true, run: 0, pages_sharing: 0}
        commit:
          description: Commit accounting (C(CommitLimit), C(Committed_AS)) and the overcommit policy.
          returned: when commit is gathered
          type: dict
          sample: {limit_bytes: 12638253056, committed_as_bytes: 2000000000, committed_pct_of_limit: 15.82,
                   overcommit_memory: 0, overcommit_ratio: 50, overcommit_kbytes: 0, strict: false,
                   headroom_bytes: 10638253056}
        slab:
          description: Kernel slab totals, the largest caches (when C(/proc/slabinfo) is readable) and inode/dentry counts.
          returned: when slab is gathered
          type: dict
          sample:
            total_bytes: 300000000
            reclaimable_bytes: 120000000
            unreclaimable_bytes: 180000000
            unreclaimable_pct_of_ram: 0.71
            slabinfo_readable: true
            top_caches:
              - {name: dentry, active_objs: 15000, num_objs: 15600, objsize: 192, objperslab: 21, pagesperslab: 1,
                 num_slabs: 743, size_bytes: 3043328, active_bytes: 2880000}
            inodes: {nr_inodes: 12631, nr_free_inodes: 0}
            dentries: {nr_dentry: 15642, nr_unused: 14274, age_limit: 45, want_pages: 0, nr_negative: 2854}
        fragmentation:
          description:
            - Free blocks per order for every zone of C(/proc/buddyinfo), the largest free order, and the
              unusable free space index per order (0 all free memory usable for that order, 1 none).
          returned: when fragmentation is gathered
          type: dict
          sample:
            max_order: 10
            compact_stall: 0
            compact_fail: 0
            compact_success: 0
            zones:
              - {node: 0, zone: Normal, free_blocks_by_order: [1351, 1206, 591, 338, 215, 120, 86, 52, 35, 34, 97],
                 free_pages: 120000, free_bytes: 491520000, largest_free_order: 10,
                 largest_free_block_bytes: 4194304, unusable_index: [0.0, 0.011, 0.03]}
        pressure:
          description: Memory pressure stall information (C(/proc/pressure/memory)); C(available) is false without PSI.
          returned: when pressure is gathered
          type: dict
          sample:
            available: true
            some: {avg10: 0.0, avg60: 0.0, avg300: 0.0, total_us: 0}
            full: {avg10: 0.0, avg60: 0.0, avg300: 0.0, total_us: 0}
        cgroup:
          description:
            - The cgroup hierarchy (V(v1), V(v2), V(hybrid)) and the memory limits of the group the module runs in.
              Limits are V(null) when unlimited.
            - C(effective_limit) and C(groups) are described below; see C(docs/cgroups.md) for how groups are judged.
          returned: when cgroup is gathered
          type: dict
          contains:
            effective_limit:
              description:
                - The nearest memory limit at or above the module's own group, up to the root of the cgroup mount
                  (inside a container, the container's own limit), with the group's C(directory), its C(path) below the
                  mount, C(limit_bytes), C(usage_bytes) and C(working_set_bytes) (usage less inactive page cache).
                - Inside a container whose limit is below RAM, the verdict on available memory is taken against it.
                - V(null) when no group up there has a limit.
              returned: when cgroup is gathered and the memory controller is there
              type: dict
              sample: {directory: /sys/fs/cgroup, path: /, limit_bytes: 536870912, usage_bytes: 524288000,
                       working_set_bytes: 520093696}
            groups:
              description:
                - Every memory cgroup of the host (systemd services, scopes and slices, podman, docker, containerd
                  and Kubernetes groups), read breadth first, at most 1000 (C(read), C(truncated)).
                - C(top_usage) lists the O(top) largest by usage, C(near_limit) those whose working set is
                  C(near_limit_pct) (threshold V(cgroup_limit_pct_monitor)) or more of their limit, closest first,
                  and C(oom_kills) those with OOM events of their own, most kills first (at least 10 each).
                - Each group has C(path) (as in C(/proc/PID/cgroup)), C(name) (the systemd unit, the container's
                  short id, the pod's uid, else the path), C(kind) (V(service), V(scope), V(slice), V(container),
                  V(pod), V(group)...), C(container_id), C(runtime) (V(docker), V(podman), V(containerd),
                  V(cri-o), V(kubernetes)) and C(pod_uid) where known, C(usage_bytes), C(working_set_bytes)
                  (usage less inactive page cache, what C(docker stats) and the kubelet show), C(limit_bytes)
                  (V(null) when unlimited), C(limit_pct) (working set against the limit), C(limit_hits)
                  (v1 C(memory.failcnt) plus C(memory.memsw.failcnt), v2 the C(max) events), C(oom_count) (v2 only), C(oom_kill_count) (from
                  C(memory.events.local) or C(memory.events), v1 C(memory.oom_control)) and C(pressure)
                  (v2 C(memory.pressure) as in RV(ansible_facts.memops.pressure), V(null) on v1).
                - V(null) without a memory controller.
              returned: when cgroup is gathered
              type: dict
              sample:
                controller: v1
                root: /sys/fs/cgroup/memory
                read: 10
                truncated: false
                near_limit_pct: 90.0
                top_usage: []
                near_limit:
                  - {path: /system.slice/docker-4f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b.scope,
                     name: 4f3b2c1d0e9f, kind: container, container_id: 4f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b,
                     runtime: docker, pod_uid: null, usage_bytes: 268173312, working_set_bytes: 267649024,
                     limit_bytes: 268435456, limit_pct: 99.7, limit_hits: 5412, oom_count: null, oom_kill_count: 0,
                     pressure: null}
                oom_kills: []
          sample:
            hierarchy: hybrid
            memory_path: /
            unified_path: /
            memory_controller: true
            memory_version: v1
            directory: /sys/fs/cgroup/memory
            limit_bytes: null
            usage_bytes: 1000000000
            max_usage_bytes: 1200000000
            swap_limit_bytes: null
            failcnt: 0
            oom_kill_count: 0
            oom_kill_disable: false
        capabilities:
          description: What the host lets this collection do there, so that roles can refuse early with a clear reason.
          returned: when capabilities is gathered
          type: dict
          sample:
            is_root: true
            container: false
            container_type: null
            init_user_namespace: true
            cap_eff: 000001ffffffffff
            cap_sys_admin: true
            cap_sys_resource: false
            proc_sys_vm_writable: true
            thp_writable: true
            swapon_permitted: true
            kernel_log_readable: true
            systemd: false
        health:
          description:
            - The verdict. C(status) is V(ok), V(monitor) or V(critical) (the most severe finding; V(info)
              findings do not count, they are advice), C(counts) the number of findings
              per severity, and C(findings) the findings, most severe first.
            - C(partial) lists what the facts could not see (not run as root, C(hidepid), an unreadable kernel
              log, C(slabinfo)), a line each; empty when the module saw all it was asked to. A verdict on a
              partial view may miss a cause; run the module as root (C(become)).
            - Each finding has C(id) (stable, for example V(memory.available_low), V(leak.suspect), V(leak.trend), V(ram.insufficient), V(oom.kills),
              V(oom.likely_victims), V(oom.critical_unprotected), V(commit.near_limit), V(commit.limit_low), V(swap.exhausted), V(swap.high),
              V(swap.none), V(slab.unreclaimable_high), V(slab.dentry_inode_bloat), V(fragmentation.high), V(tuning.swappiness), V(tuning.thp),
              V(tuning.redis_overcommit), V(tuning.heap_unbounded), V(heap.over_cgroup_limit), V(heap.limits_exceed_ram), V(cgroup.near_limit),
              V(cgroup.oom_kills)), C(severity), C(title), C(evidence) (lines a person reads), C(data) (the numbers behind them) and C(remedy)
              (C(summary), and where this collection applies the fix, the C(role) and its C(variable) with a suggested C(value), or the C(module)).
            - When memory is low, V(shmem.holds_memory), V(hugetlb.unused) and V(memory.unaccounted) name the
              part of RV(ansible_facts.memops.memory.breakdown) that holds it; page cache never does.
          returned: always
          type: dict
          sample:
            status: monitor
            counts: {critical: 0, monitor: 1, info: 0}
            partial: []
            findings:
              - id: swap.high
                severity: monitor
                title: More than 50% of swap is in use
                evidence: ["swap used 62.5%", "top swap users: java[2211] 1.1 GiB"]
                data: {used_pct: 62.5}
                remedy: {summary: Find what was swapped out; add swap or RAM if it keeps growing.,
                         role: memops.linux.swap, variable: swap_files, value: null, module: null}
        leaks:
          description:
            - Present when O(leak_history) holds a history. C(history_file); C(updated) and C(since), its last and first sample (seconds since the epoch);
              C(age_seconds) since the last; how many C(processes) and C(units) (services) it follows; C(suspects), fastest growth first, each with C(kind)
              (process or unit), C(name), C(pid) (null for a unit), C(bytes), C(growth_bytes), C(growth_bytes_per_hour), C(recent_bytes_per_hour),
              C(span_seconds), C(fit) (R^2), C(first_seen) and C(exhaustion_seconds) (until MemAvailable runs out at this growth; null when unknown).
          returned: when leak_history holds a history
          type: dict
          sample: {history_file: /var/lib/memops/check/leak-history.json, updated: 1733260000, since: 1732655200, age_seconds: 120, processes: 100,
                   units: 12, suspects: []}
        samples:
          description:
            - Present when O(samples) is more than 1. C(growth) lists the processes whose RSS grew between the
              first and the last sample, most growth first, each with C(pid), C(name), C(starttime),
              C(rss_series) and C(growth_bytes). The swap subset then also has C(pswpin_rate) and
              C(pswpout_rate) (pages per second).
          returned: when samples > 1
          type: dict
          sample:
            count: 3
            interval: 5.0
            window_seconds: 10.02
            growth:
              - {pid: 4242, name: myapp, starttime: 1200, rss_series: [100000000, 120000000, 140000000],
                 growth_bytes: 40000000}
        capture:
          description:
            - Present with O(sosreport). C(type) (V(sosreport directory) or V(sosreport tarball)), C(path), C(hostname)
              (its C(etc/hostname), else its C(uname -a)), C(taken_at) (when sos started, the host's local time),
              C(sos_version), C(log_file), C(processes_from) and C(sysctl_from) (the files read, below the
              sosreport), and C(missing), the parts it lacks, a line each (an empty list when it had all).
          returned: with sosreport
          type: dict
          sample: {type: sosreport directory, path: /cases/1234/sosreport-web01-2026-12-04-abcdef, hostname: web01,
                   taken_at: "2026-12-04T04:37:25", sos_version: "4.0", log_file: sos_commands/kernel/dmesg,
                   processes_from: sos_commands/process/ps_auxwww, sysctl_from: sos_commands/kernel/sysctl_-a,
                   missing: [pressure (proc/pressure/memory)]}
        process_detail:
          description: The C(pmap -x) and C(smem) view of the processes O(process_detail) selects, largest PSS first.
          returned: when process_detail is given
          type: dict
          contains:
            processes:
              description:
                - Each has C(pid), C(name), C(cmdline), C(selected_by) (V(pid), V(name:NAME), V(top)); from
                  C(smaps_rollup) (C(totals_from)) C(rss_bytes), C(pss_bytes), C(uss_bytes) (Private_Clean plus Private_Dirty,
                  smem's USS), C(shared_bytes) (Shared_Clean plus Shared_Dirty), C(dirty_bytes), C(swap_bytes), C(swap_pss_bytes),
                  C(anon_huge_bytes), C(hugetlb_bytes) (not in RSS); from C(smaps) C(size_bytes) (pmap's total Kbytes),
                  C(mapping_count), C(truncated) and C(by_kind), per kind (V(heap), V(stack), V(anonymous), V(file),
                  V(shmem) for SysV segments, C(/dev/shm), memfd and shared anonymous mappings, V(other) for vdso and the
                  like) its C(count), C(size_bytes), C(rss_bytes), C(pss_bytes) and C(swap_bytes).
                - C(mappings), the O(process_detail.mappings) largest by RSS plus swap, are the rows of C(pmap -x), C(address)
                  (start-end), C(perms), C(kind), C(path) (without C( (deleted)), then C(deleted) is true), C(size_bytes)
                  (Kbytes), C(rss_bytes) (RSS), C(dirty_bytes) (Dirty), C(pss_bytes), C(uss_bytes), C(swap_bytes).
              returned: always
              type: list
              elements: dict
              sample:
                - {pid: 4242, name: myapp, cmdline: /usr/bin/myapp, selected_by: [pid], rss_bytes: 79069184, pss_bytes: 76701696,
                   uss_bytes: 76546048, shared_bytes: 2523136, dirty_bytes: 74145792, swap_bytes: 0, swap_pss_bytes: 0,
                   anon_huge_bytes: 0, hugetlb_bytes: 0, size_bytes: 84078592, mapping_count: 98, totals_from: smaps_rollup,
                   truncated: false, by_kind: {}, mappings: [{address: 5567261e4000-55672a32c000, perms: rw-p, kind: heap,
                   path: '[heap]', deleted: false, size_bytes: 67895296, rss_bytes: 67895296, dirty_bytes: 67895296}]}
            not_found_pids: {description: "The pids of O(process_detail.pids) with no process.", returned: always, type: list, elements: int}
            unmatched_names: {description: "The names of O(process_detail.names) that matched no process.", returned: always, type: list, elements: str}
            vanished_pids: {description: "Processes that exited while being read.", returned: always, type: list, elements: int}
            access_denied_pids: {description: "Processes whose C(smaps) this user may not read (run as root).", returned: always, type: list, elements: int}
            mappings: {description: "The most mappings listed per process.", returned: always, type: int}
            notes: {description: "Cut C(smaps), empty ones (kernel threads), unreadable processes, a selection over 100 processes.",
                    returned: always, type: list, elements: str}
        uptime_seconds:
          description: Seconds since boot, from C(/proc/uptime).
          returned: always
          type: float
          sample: 5133.2
        gather_subset:
          description: The subsets that were gathered, after C(all) and C(!name) were resolved.
          returned: always
          type: list
          elements: str
          sample: [overview, swap, oom]
        notes:
          description: What could not be read or parsed (skipped lines, files without permission); empty when all went well.
          returned: always
          type: list
          elements: str
          sample: ["slabinfo: permission denied (root only)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _kernlog
from ansible_collections.memops.linux.plugins.module_utils import _leak_history
from ansible_collections.memops.linux.plugins.module_utils import _memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _redact
from ansible_collections.memops.linux.plugins.module_utils import _smaps
from ansible_collections.memops.linux.plugins.module_utils import _sosreport


def main():
    spec = dict(_memfacts.OPTIONS, **_procfs.ROOT_OPTIONS)
    try:
        module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    except TypeError:  # ansible-core's sub-option check raises on a number or boolean given for process_detail
        module = AnsibleModule(argument_spec=dict(spec, process_detail={"type": "raw"}), supports_check_mode=True)
        module.fail_json(msg="mem_facts: process_detail must be a dict of pids, names, top and mappings, got %r"
                             % (module.params["process_detail"],))
    params = module.params
    problem = _memfacts.check_options(params)
    if problem:
        module.fail_json(msg="mem_facts: %s" % problem)
    try:
        thresholds = _diagnosis.merge_thresholds(params["thresholds"])
        redact = _redact.compile_patterns(params["redact"])
        detail = None if params["process_detail"] is None else _smaps.check_request(params["process_detail"])
    except (_diagnosis.ThresholdError, _redact.RedactError, _smaps.SmapsError) as exc:
        module.fail_json(msg="mem_facts: %s" % exc)
    capture = None
    try:
        subsets = _memfacts.resolve_subsets(params["gather_subset"])
        capture, reader, options = _sosreport.inputs(params)
        if not reader.proc("meminfo"):
            module.fail_json(
                msg="mem_facts: %s/meminfo is missing; proc_root must point at a mounted procfs"
                    % reader.proc_root)
        inputs = {"use_kernel_log": params["kernel_log"] == "auto", "log_file": params["kernel_log_path"],
                  "log_commands": _kernlog.command_runner(module),
                  "process_detail": None if detail is None else lambda rows: _smaps.detail(reader, detail, rows),
                  "leaks": _leak_history.reading(params["leak_history"], thresholds) if params["leak_history"] else None}
        inputs.update(options)  # a sosreport's own log and processes
        facts = _memfacts.gather(reader, subsets, top=params["top"], samples=params["samples"],
                                 sample_interval=params["sample_interval"], thresholds=thresholds, **inputs)
    except (_procfs.ProcfsError, _memfacts.SubsetError) as exc:
        module.fail_json(msg="mem_facts: %s" % exc)
    finally:
        if capture is not None:
            capture.close()
    if capture is not None:
        facts["capture"] = capture.info
    module.exit_json(changed=False, ansible_facts={"memops": _redact.redact_commands(facts, redact)})


if __name__ == "__main__":
    main()

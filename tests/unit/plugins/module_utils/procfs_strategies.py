# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hypothesis strategies for the text of /proc and /sys files: numbers as the
kernel prints them and as it never would, near-valid lines of each file, and
any text. Shared by the parser fuzz tests (test_procfs_fuzz.py) and the
module fuzz tests (tests/fuzz), which build whole trees from them."""

from __future__ import annotations

import string

from hypothesis import strategies as st

# what Reader.read returns: text decoded with errors="replace"
decoded = st.binary(max_size=600).map(lambda b: b.decode("utf-8", "replace"))
any_text = st.one_of(st.text(max_size=600), decoded)
# numbers as the kernel prints them, and as it never would
numbers = st.one_of(
    st.integers(min_value=-(10 ** 20), max_value=10 ** 20).map(str),
    st.integers(min_value=0, max_value=2 ** 64).map(str),
    st.sampled_from(["9" * 4301, "1" + "0" * 5000, "0" * 4400 + "7"]),  # past int()'s 4300-digit limit
    st.sampled_from(["", "-", "+1", "1e3", "0x1f", "1_000", "\u0663", "\u00b2", "inf", "nan", "1.5", " 7 "]),
)
words = st.text(string.ascii_letters + string.digits + "_-()/.:+[]", min_size=0, max_size=24)
blank = st.sampled_from(["", " ", "\t", "  \t ", "\r", "\x0b", "\x0c", "\x85", "\u2028"])


def lines_of(line, max_size=12):
    """Text made of near-valid lines, garbage lines and blank ones, with odd line breaks."""
    return st.lists(st.one_of(line, line, st.text(max_size=60), blank), max_size=max_size).flatmap(
        lambda parts: st.sampled_from(["\n", "\r\n", "\n\n"]).map(lambda sep: sep.join(parts)))


meminfo_line = st.builds(lambda k, sp, n, u: "%s:%s%s%s" % (k, sp, n, u), words, st.sampled_from(["", " ", "\t", "   "]),
                         numbers, st.sampled_from(["", " kB", " KB", " kb", " MB", " kB kB"]))
swaps_line = st.builds(lambda p, d, t, a, b, c: "\t".join([p + d, t, a, b, c]), words,
                       st.sampled_from(["", " (deleted)", "\\040x", "\\777"]),
                       st.sampled_from(["file", "partition", ""]), numbers, numbers, numbers)
key_int_line = st.builds(lambda k, n, extra: "%s %s%s" % (k, n, extra), words, numbers,
                         st.sampled_from(["", " 1", " x"]))
slab_line = st.builds(
    lambda name, nums, sd: "%s %s : tunables 0 0 0 : slabdata %s" % (name, " ".join(nums), " ".join(sd)),
    words, st.lists(numbers, min_size=0, max_size=7), st.lists(numbers, min_size=0, max_size=4))
buddy_line = st.builds(lambda node, zone, counts: "Node %s, zone %s %s" % (node, zone, " ".join(counts)),
                       numbers, words, st.lists(numbers, max_size=16))
pressure_line = st.builds(lambda kind, items: "%s %s" % (kind, " ".join(items)),
                          st.sampled_from(["some", "full", "other"]),
                          st.lists(st.builds(lambda k, v: "%s=%s" % (k, v),
                                             st.sampled_from(["avg10", "avg60", "avg300", "total", "x", ""]),
                                             numbers), max_size=5))
selector_text = st.lists(st.one_of(words, words.map(lambda w: "[%s]" % w)), max_size=8).map(" ".join)
stat_text = st.builds(lambda pid, comm, rest: "%s (%s) %s" % (pid, comm, " ".join(rest)),
                      numbers, st.text(max_size=20), st.lists(st.one_of(numbers, words), max_size=55))
status_line = st.builds(lambda k, v: "%s:\t%s" % (k, v), words,
                        st.one_of(numbers.map(lambda n: n + " kB"), st.text(max_size=30)))
statm_text = st.lists(numbers, max_size=9).map(" ".join)
smaps_line = st.one_of(
    st.builds(lambda k, n: "%s: %s kB" % (k, n), words, numbers),
    st.builds(lambda a, p: "%s rw-p 00000000 08:01 12 %s" % (a, p), words, st.text(max_size=30)),
)
cgroup_line = st.builds(lambda h, c, p: "%s:%s:%s" % (h, c, p), st.sampled_from(["0", "1", "12", "x", ""]),
                        st.sampled_from(["", "memory", "cpu,memory", "name=systemd", "pids"]), st.text(max_size=30))
log_prefix = st.sampled_from(["", "[ 12.345678] ", "[99999999999999999999.1] ", "6,812,1203345,-;",
                              "3,1,99999999999999999999999,c;", "Nov 26 13:40:02 db01 kernel: ",
                              "2026-11-26T13:40:02+00:00 db01 kernel: [ 5.0] ", "[ 1.5] web01 kernel: ",
                              "> ", ">   ", "  1 [ 3.25] ", "<3>[ 1.0] ", "[ 49.9][ T6736] ", "[    2.5][    C1] ",
                              "[Thu May  9 14:52:38 2024] ", "[\u0447\u0442 \u043c\u0430\u044f  9 14:52:38 2024] ",
                              "2024-05-09T14:52:38,123456+02:00 ", "Nov 26 13:40:02.123456 kernel: ",
                              "Sat Jan 25 09:40:15 2020 kern.err kernel: ", "    MESSAGE="])
log_message = st.one_of(
    st.builds(lambda c, g, o, a: "%s invoked oom-killer: gfp_mask=%s, order=%s, oom_score_adj=%s" % (c, g, o, a),
              st.text(max_size=15), words, numbers, numbers),
    st.builds(lambda s, pid, name, nums: "%s: Killed process %s (%s) total-vm:%skB, anon-rss:%skB, file-rss:%skB, "
                                         "shmem-rss:%skB, UID:%s pgtables:%skB oom_score_adj:%s"
                                         % ((s, pid, name) + tuple(nums)),
              st.sampled_from(["Out of memory", "Memory cgroup out of memory", "Out of memory (oom_kill_allocating_task)"]),
              numbers, st.text(max_size=20), st.lists(numbers, min_size=7, max_size=7)),
    st.builds(lambda s, pid, name, score: "%s: Kill process %s (%s) score %s or sacrifice child" % (s, pid, name, score),
              st.sampled_from(["Out of memory", "Memory cgroup out of memory"]), numbers, st.text(max_size=20), numbers),
    st.builds(lambda pid, name, a, b: "Killed process %s (%s) total-vm:%skB, anon-rss:%skB, file-rss:0kB" % (pid, name, a, b),
              numbers, st.text(max_size=20), numbers, numbers),
    st.builds(lambda pid, uid, name, form: form.format(pid=pid, uid=uid, name=name), numbers, numbers,
              st.text(max_size=20),
              st.sampled_from(["Killed process {pid}, UID {uid}, ({name}) total-vm:1kB, anon-rss:1,0kB, file-rss:2kB",
                               "Killed process {pid} ({name}), UID {uid}, total-vm:1kB, anon-rss:1kB, file-rss:   kB>",
                               "Out of Memory: Killed process {pid} ({name})."])),
    st.builds(lambda items: "oom-kill:" + ",".join(items),
              st.lists(st.builds(lambda k, v: "%s=%s" % (k, v),
                                 st.sampled_from(["constraint", "oom_memcg", "task_memcg", "task", "pid", "x"]),
                                 st.text(max_size=12)), max_size=6)),
    st.builds(lambda a, b, c: "memory: usage %skB, limit %skB, failcnt %s" % (a, b, c), numbers, numbers, numbers),
    st.builds(lambda a, b: "Task in %s killed as a result of limit of %s" % (a, b), words, words),
)
log_line = st.builds(lambda prefix, message: prefix + message, log_prefix, st.one_of(log_message, st.text(max_size=40)))
mountinfo_line = st.builds(
    lambda mp, opts, sopts: "25 29 0:23 / %s %s shared:12 - proc proc %s" % (mp, opts, sopts),
    st.sampled_from(["/proc", "/proc\\040x", "/sys", ""]), words, st.lists(
        st.one_of(words, st.builds(lambda k, v: "%s=%s" % (k, v), words, words)), max_size=5).map(",".join))
kstat_line = st.builds(lambda name, kind, value: "%s %s %s" % (name, kind, value), words, st.sampled_from(["4", "x", ""]),
                       numbers)
modules_line = st.builds(lambda name, size, rest: "%s %s %s" % (name, size, rest), words, numbers,
                         st.sampled_from(["0 - Live 0x0000000000000000", "2 zfs, Live 0x0 (POE)", ""]))
mm_stat_text = st.lists(st.one_of(numbers, words), max_size=10).flatmap(
    lambda fields: st.sampled_from([" ", "  ", "\t", "\n"]).map(lambda sep: sep.join(fields)))

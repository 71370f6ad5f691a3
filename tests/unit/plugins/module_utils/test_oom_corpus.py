# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_oomlog.parse_kernel_log over the OOM-killer corpus (tests/unit/fixtures/oom_corpus):
real excerpts in the formats people have their kernel log in, each with the
kills a reader must find (corpus.yml, fields described in its README.md).

The corpus's ``unsure`` entries are taken as written: 011 lists its repeated
2.6.9 line as two kills, the line-number gutter (012), journalctl -o verbose
(020) and OpenWrt logread (042) are read, a selection line without its
"Killed process" line (029) or an oom-kill: line without one (041) is no kill,
and fields after a terminal wrap point (030) are left out, not rejoined."""

from __future__ import annotations

import collections
import os
import re
import time

import pytest
import yaml

from ansible_collections.memops.linux.plugins.module_utils import _kernlog
from ansible_collections.memops.linux.plugins.module_utils import _oomlog

try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # hypothesis is optional for a quick local run
    given = None

UNIT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(UNIT, "fixtures", "oom_corpus")
KIB = 1024
VICTIM_FIELDS = ("pid", "name", "rss_bytes", "anon_rss_bytes", "uid")
EVENT_FIELDS = ("constraint", "memcg", "task_memcg")
# what the kill itself is: compared where context (invoker, time) may legitimately differ
KILL_FIELDS = ("format", "scope", "constraint", "memcg", "task_memcg", "victim", "notes")


def load_corpus():
    with open(os.path.join(CORPUS, "corpus.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["excerpts"]


ENTRIES = load_corpus()
BY_NUMBER = {entry["file"][:3]: entry for entry in ENTRIES}


def text_of(number):
    with open(os.path.join(CORPUS, BY_NUMBER[number]["file"]), encoding="utf-8") as handle:
        text = handle.read()
    return text if text.endswith("\n") else text + "\n"


def events_of(number):
    return _oomlog.parse_kernel_log(text_of(number))


def expected_fields(event):
    found = {key: event["victim"][key] for key in VICTIM_FIELDS}
    found.update((key, event[key]) for key in EVENT_FIELDS)
    return found


def kill_key(event):
    return tuple((key, repr(event[key])) for key in KILL_FIELDS)


def matched_kills(entry):
    """(found kills matched to expected ones in log order, a found kill no expected one matches or None)."""
    remaining = list(entry["expected"] or [])
    matched = []
    for event in events_of(entry["file"][:3]):
        found = expected_fields(event)
        index = next((i for i, kill in enumerate(remaining) if kill["pid"] == found["pid"]), None)
        if index is None:
            return matched, found
        matched.append((found, remaining[index]))
        del remaining[:index + 1]
    return matched, None


def test_corpus_is_the_one_the_readme_describes():
    assert len(ENTRIES) == 45 and sum(len(entry["expected"] or []) for entry in ENTRIES) == 71
    assert sorted(name for name in os.listdir(CORPUS) if name.endswith(".log")) == sorted(e["file"] for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["file"][:-4] for entry in ENTRIES])
def test_corpus_excerpt_kills_right_in_every_field(entry):
    matched, extra = matched_kills(entry)
    assert extra is None, "found a kill the excerpt does not have: %r" % (extra,)
    for found, expected in matched:
        assert found == {key: expected[key] for key in VICTIM_FIELDS + EVENT_FIELDS}


def test_corpus_at_least_95_percent_of_kills_found():
    expected = sum(len(entry["expected"] or []) for entry in ENTRIES)
    missed = {}
    for entry in ENTRIES:
        matched, _extra = matched_kills(entry)
        if len(matched) < len(entry["expected"] or []):
            missed[entry["file"]] = len(entry["expected"]) - len(matched)
    found = expected - sum(missed.values())
    assert found >= 0.95 * expected, "found %d of %d kills; missed %r" % (found, expected, missed)
    assert missed == {}  # today every kill of the corpus is found


def test_corpus_digit_grouped_sizes_are_left_out_with_a_note():
    (event,) = events_of("005")
    victim = event["victim"]
    assert victim["anon_rss_bytes"] is None and victim["total_vm_bytes"] is None and victim["rss_bytes"] is None
    assert victim["file_rss_bytes"] == 0 and victim["pgtables_bytes"] == 38964 * KIB and victim["uid"] == 0
    assert any("anon-rss" in note and "153,700,88kB" in note for note in event["notes"])
    assert any("total-vm" in note and "26,184,840kB" in note for note in event["notes"])
    assert any(note.startswith("rss left out") for note in event["notes"])


def test_corpus_value_cut_by_a_pager_is_left_out_with_a_note():
    assert "vte-s>" in text_of("007")
    (event,) = events_of("007")
    assert event["task_memcg"] is None and event["constraint"] == "CONSTRAINT_NONE"
    assert any("task_memcg" in note and "pager" in note for note in event["notes"])
    assert event["victim"]["anon_rss_bytes"] == 5048356 * KIB  # the kill line itself is whole


def test_corpus_line_cut_by_its_author_keeps_only_whole_values():
    (event,) = events_of("036")
    victim = event["victim"]
    assert victim["anon_rss_bytes"] == 1172284 * KIB and victim["total_vm_bytes"] == 3193576 * KIB
    assert victim["file_rss_bytes"] is None and victim["rss_bytes"] is None
    assert any(note.startswith("rss left out") for note in event["notes"])


def test_corpus_kill_line_cut_after_the_name():
    (event,) = events_of("044")
    victim = event["victim"]
    assert (victim["pid"], victim["name"]) == (5017, "test")
    assert all(victim[key] is None for key in ("total_vm_bytes", "anon_rss_bytes", "rss_bytes", "uid"))
    assert any("sizes left out" in note for note in event["notes"])


def test_corpus_terminal_wrap_leaves_the_wrapped_fields_out():
    (event,) = events_of("030")
    victim = event["victim"]
    assert (victim["pid"], event["constraint"]) == (25315, "CONSTRAINT_NONE")
    assert victim["total_vm_bytes"] is None  # "53312244" then the wrap: its kB is on the far side, never bytes
    assert victim["anon_rss_bytes"] is None and event["task_memcg"] is None
    assert any("wrapped" in note for note in event["notes"])


@pytest.mark.parametrize("number", ["015", "018", "025", "037"])
def test_corpus_trailing_invocation_lends_nothing_to_the_kill_before_it(number):
    (event,) = events_of(number)
    assert event["invoker"] is None and event["gfp_mask"] is None


@pytest.mark.parametrize("front", ["029", "041", "043"])
@pytest.mark.parametrize("number", sorted(BY_NUMBER))
def test_invocation_without_kill_lends_nothing_to_the_next_excerpt(front, number):
    """An invocation that killed nothing (029, 041, 043: README "Not found" says to build this case
    by concatenation) in front of any excerpt: that excerpt's events come out exactly, invoker and all."""
    assert _oomlog.parse_kernel_log(text_of(front) + text_of(number)) == events_of(front) + events_of(number)


def test_kernlog_keeps_the_parser_under_its_old_name():
    assert _kernlog.parse_kernel_log is _oomlog.parse_kernel_log


def invocation_blocks(number):
    """An excerpt's lines cut before each "invoked oom-killer" line (the first block is what comes before)."""
    blocks = [[]]
    for line in text_of(number).splitlines(True):
        if " invoked oom-killer:" in line and blocks[-1]:
            blocks.append([])
        blocks[-1].append(line)
    return ["".join(block) for block in blocks]


NUMBERS = sorted(BY_NUMBER)

if given is not None:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=6))
    def test_any_concatenation_yields_the_union_of_the_events(numbers):
        events = _oomlog.parse_kernel_log("".join(text_of(number) for number in numbers))
        expected = [event for number in numbers for event in events_of(number)]
        assert [kill_key(event) for event in events] == [kill_key(event) for event in expected]
        # each kill keeps the time of its own line
        assert [(e["uptime_seconds"], e["logged_at"]) for e in events] == [
            (e["uptime_seconds"], e["logged_at"]) for e in expected]

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def test_any_interleaving_of_invocation_blocks_yields_the_union(data):
        numbers = data.draw(st.lists(st.sampled_from(NUMBERS), min_size=2, max_size=4, unique=True))
        queues = [invocation_blocks(number) for number in numbers]
        pieces = []
        while any(queues):
            waiting = [queue for queue in queues if queue]
            pieces.append(waiting[data.draw(st.integers(0, len(waiting) - 1))].pop(0))
        events = _oomlog.parse_kernel_log("".join(pieces))
        expected = [event for number in numbers for event in events_of(number)]
        assert collections.Counter(kill_key(e) for e in events) == collections.Counter(kill_key(e) for e in expected)


# Formats the corpus has no citable excerpt of (README "Not found"): constructed prefixes on real
# kernel lines. Each is (prefix for a line of uptime U, the logged_at it gives, whether the uptime is kept).
UPTIME_LINE = re.compile(r"^\[\s*(\d+\.\d+)\](?:\[\s*T\d+\])?\s?(.*)$")
CONSTRUCTED = {
    "dmesg --time-format iso": ("2024-05-09T14:52:38,123456+02:00 ", "2024-05-09T14:52:38,123456+02:00", False),
    "journalctl short-iso": ("2024-05-09T14:52:38+0200 web01 kernel: ", "2024-05-09T14:52:38+0200", False),
    "journalctl short-iso-precise": ("2024-05-09T14:52:38.123456+02:00 web01 kernel: ",
                                     "2024-05-09T14:52:38.123456+02:00", False),
    "journalctl short-precise": ("May 09 14:52:38.123456 web01 kernel: ", "May 09 14:52:38.123456", False),
    "journalctl short-monotonic": ("[{uptime}] web01 kernel: ", None, True),
    "journalctl short, German month": ("Mai 09 14:52:38 web01 kernel: ", "Mai 09 14:52:38", False),
    "syslog without host name": ("May  9 14:52:38 kernel: ", "May  9 14:52:38", False),
    "syslog without host name, kernel uptime": ("May  9 14:52:38 kernel: [{uptime}] ", "May  9 14:52:38", True),
    "dmesg -T, German": ("[Do Mai  9 14:52:38 2024] ", "Do Mai  9 14:52:38 2024", False),
    "dmesg -T, French": ("[jeu. mai  9 14:52:38 2024] ", "jeu. mai  9 14:52:38 2024", False),
    "dmesg -T, Russian": ("[\u0447\u0442 \u043c\u0430\u044f  9 14:52:38 2024] ",
                          "\u0447\u0442 \u043c\u0430\u044f  9 14:52:38 2024", False),
    "dmesg -T, Japanese": ("[\u6728  5\u6708  9 14:52:38 2024] ", "\u6728  5\u6708  9 14:52:38 2024", False),
    "printk caller id [ Cn]": ("[{uptime}][    C3] ", None, True),
    "mail quoting and indentation": (">>    [{uptime}] ", None, True),
}


@pytest.mark.parametrize("number", ["006", "013", "025", "027", "028", "039"])
@pytest.mark.parametrize("style", sorted(CONSTRUCTED))
def test_constructed_prefix_on_real_lines(style, number):
    """Constructed prefixes on real kernel lines: the [uptime] (and caller id) of a corpus dmesg
    excerpt is replaced by the prefix of a format the corpus has no real excerpt of."""
    prefix, logged_at, keeps_uptime = CONSTRUCTED[style]
    lines = []
    for line in text_of(number).splitlines():
        match = UPTIME_LINE.match(line)
        # the authors' own "[...]" elisions stay as they are
        lines.append(prefix.format(uptime=match.group(1)) + match.group(2) if match else line)
    events = _oomlog.parse_kernel_log("\n".join(lines) + "\n")
    original = events_of(number)
    assert [kill_key(e) for e in events] == [kill_key(e) for e in original]
    assert [e["invoker"] for e in events] == [e["invoker"] for e in original]
    assert [e["logged_at"] for e in events] == [logged_at] * len(original)
    assert [e["uptime_seconds"] for e in events] == [e["uptime_seconds"] if keeps_uptime else None for e in original]


def test_new_invocation_resets_the_context_of_the_block():
    text = ("[ 1.0] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            "[ 1.1] memory: usage 512kB, limit 512kB, failcnt 1\n"
            "[ 1.2] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=/a,task_memcg=/a,task=a,pid=5,uid=0\n"
            "[ 2.0] b invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0\n"
            "[ 2.1] Out of memory: Killed process 5 (a) total-vm:100kB, anon-rss:10kB, file-rss:0kB, shmem-rss:0kB, "
            "UID:0 pgtables:4kB oom_score_adj:0\n")
    (event,) = _oomlog.parse_kernel_log(text)
    assert (event["invoker"], event["scope"], event["constraint"], event["memcg"]) == ("b", "system", None, None)
    assert event["memcg_usage_bytes"] is None


def test_summary_naming_another_pid_is_not_lent():
    text = ("[ 1.0] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            "[ 1.2] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=/a,task_memcg=/a,task=a,pid=5,uid=0\n"
            "[ 1.3] Out of memory: Killed process 6 (b) total-vm:100kB, anon-rss:10kB, file-rss:0kB, shmem-rss:0kB, "
            "UID:7 pgtables:4kB oom_score_adj:0\n")
    (event,) = _oomlog.parse_kernel_log(text)
    assert (event["invoker"], event["constraint"], event["task_memcg"]) == (None, None, None)


@pytest.mark.parametrize("line", [
    "oom " + " " * 200000 + "x",
    "[" * 200000 + " oom",
    "Out of memory: Killed process 1 (" + ")" * 100000 + " total-vm:" + "1," * 50000,
    "Out of memory: Kill process 1 (" + ") score 1" * 20000,
    "oom-kill:" + "a=," * 60000 + "pid=1",
    "Nov 29 01:00:04 " + "x" * 200000 + " oom",
    "x invoked oom-killer: " + "gfp_mask=" * 20000,
])
def test_hostile_lines_cost_linear_time(line):
    started = time.monotonic()
    _oomlog.parse_kernel_log((line + "\n") * 5)
    assert time.monotonic() - started < 5.0


def test_ordinary_lines_are_cheap():
    text = "[ 12.345678] usb 1-1: new high-speed USB device number 2 using ehci-pci\n" * 200000  # 14 MB
    started = time.monotonic()
    assert _oomlog.parse_kernel_log(text) == []
    assert time.monotonic() - started < 5.0


KILL_5X = ("Out of memory: Killed process 9 (x) total-vm:100kB, anon-rss:10kB, file-rss:0kB, shmem-rss:0kB, "
           "UID:0 pgtables:4kB oom_score_adj:0\n")


def test_no_killable_processes_ends_the_block():
    text = ("[ 5.0] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            "[ 5.1] Out of memory and no killable processes...\n"
            "[ 5.2] " + KILL_5X)
    (event,) = _oomlog.parse_kernel_log(text)
    assert event["victim"]["pid"] == 9 and event["invoker"] is None


@pytest.mark.parametrize("kill_prefix, lent", [
    ("Nov 29 01:00:04 web02 kernel: ", False),  # another host's log pasted after
    ("[ 5.2] ", False),  # dmesg after syslog
    ("Nov 29 01:00:04 web01 kernel: ", True),  # the same log: the block's own kill
])
def test_another_prefix_shape_ends_the_block(kill_prefix, lent):
    text = ("Nov 29 01:00:04 web01 kernel: a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            + kill_prefix + KILL_5X)
    (event,) = _oomlog.parse_kernel_log(text)
    assert event["invoker"] == ("a" if lent else None)


@pytest.mark.parametrize("kill_uptime, lent", [("5.3", True), ("304.9", True), ("305.1", False), ("4.9", False)])
def test_time_gap_or_step_back_ends_the_block(kill_uptime, lent):
    text = ("[ 5.0] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            "[ %s] %s" % (kill_uptime, KILL_5X))
    (event,) = _oomlog.parse_kernel_log(text)
    assert event["invoker"] == ("a" if lent else None)


@pytest.mark.parametrize("counters, rss, total_vm, left_out", [
    ("total-vm:10kB, anon-rss:1kB, file-rss:2kB", 3 * KIB, 10 * KIB, []),  # before shmem-rss was logged
    ("total-vm:10kB, anon-rss:1kB, file-rss:2kB, ", None, 10 * KIB, ["rss"]),  # cut where shmem-rss may follow
    ("total-vm:10kB, anon-rss:1kB, file-rss:2", None, 10 * KIB, ["file-rss", "rss"]),  # cut inside a figure
    ("total-vm:1_000kB, anon-rss:\u0661kB, file-rss:2kB", None, None, ["total-vm", "anon-rss", "rss"]),
    ("total-vm:10kB, anon-rss:1kB, file-rss:2kB, shmem-rss:4kB, UID:0 pgtables:4kB oom_score_adj:10>",
     7 * KIB, 10 * KIB, ["oom_score_adj"]),  # a pager's '>' in the last figure
])
def test_kill_line_values_read_only_whole(counters, rss, total_vm, left_out):
    (event,) = _oomlog.parse_kernel_log("Out of memory: Killed process 1 (a) %s\n" % counters)
    assert (event["victim"]["rss_bytes"], event["victim"]["total_vm_bytes"]) == (rss, total_vm)
    assert event["victim"]["oom_score_adj"] is None
    assert [note.split(" ", 1)[0] for note in event["notes"]] == left_out


def test_kernel_2_6_32_selection_and_vsz_kill_line():
    text = ("[ 9.0] Out of memory: kill process 4120 (httpd) score 83311 or a child\n"
            "[ 9.1] Killed process 4121 (httpd) vsz:333244kB, anon-rss:20340kB, file-rss:44kB\n")
    (event,) = _oomlog.parse_kernel_log(text)
    victim = event["victim"]
    assert (victim["pid"], victim["score"], event["format"]) == (4121, 83311, "legacy")
    assert victim["total_vm_bytes"] == 333244 * KIB and victim["rss_bytes"] == (20340 + 44) * KIB

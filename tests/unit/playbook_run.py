# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests that run real ansible-playbook processes share: where ansible-playbook and the collection are."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

from ansible_collections.memops.linux.plugins.plugin_utils import _summary

# .../ansible_collections/memops/linux/plugins/plugin_utils/_summary.py -> .../ansible_collections/memops/linux
COLLECTION = os.path.abspath(os.path.join(os.path.dirname(_summary.__file__), os.pardir, os.pardir))
# the directory holding ansible_collections, for ANSIBLE_COLLECTIONS_PATH
COLLECTIONS_ROOT = os.path.abspath(os.path.join(COLLECTION, *[os.pardir] * 3))


# tests/callback_plugins: set_stats_artifact writes a run's set_stats data where AWX takes its artifacts from
ARTIFACT_CALLBACKS = os.path.join(COLLECTION, "tests", "callback_plugins")


def artifact_env(path):
    """Environment for ansible-playbook that writes the run's set_stats artifact to path (JSON)."""
    return {"ANSIBLE_CALLBACK_PLUGINS": ARTIFACT_CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "set_stats_artifact",
            "MEMOPS_ARTIFACT_FILE": str(path)}


def ansible_playbook():
    """The ansible-playbook next to this Python (its virtualenv), else the one on PATH, else None."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return beside if os.path.exists(beside) else shutil.which("ansible-playbook")


def run_playbook(playbook, cwd, *args):
    """ansible-playbook PLAYBOOK ARGS in cwd with this collection and no inventory (localhost only, quiet about it)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY=str(cwd / "absent.ini"), ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    return subprocess.run([ansible_playbook(), playbook, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def mode_of(path):
    """The permission bits of path, as os.stat gives them."""
    return stat.S_IMODE(os.stat(path).st_mode)


# The mode options of host_report and fleet_report, as lines of the task's arguments:
# the file mode and the mode of a directory the action creates.
REPORT_MODES = [
    ('mode: "0640"', 0o640, 0o700),  # the directory stays the owner's unless asked
    ('mode: "0640"\n        directory_mode: "0750"', 0o640, 0o750),
    ('mode: "0644"\n        directory_mode: "02755"', 0o644, 0o2755),
    ("mode: 0640", 0o640, 0o700),  # unquoted: YAML reads an octal int
]
# Modes both refuse, and why.
WRITABLE = " (group or world write bit); they could replace or link what is written"
SPECIAL = " sets a set-user-ID, set-group-ID or sticky bit, which a written file needs none of"
BAD_REPORT_MODES = [
    ('mode: "rw-r--r--"', "mode 'rw-r--r--' is not an octal file mode"),
    ('mode: "0999"', "mode '0999' is not an octal file mode"),
    ('mode: "17777"', "mode '17777' is above 07777"),
    ('mode: "0444"', "mode '0444' does not let the owner read and write the file"),
    ("mode: 644", "mode 644 (octal 1204) does not let the owner read and write the file"),  # decimal in YAML
    ('mode: "0666"', "mode '0666' lets other users write" + WRITABLE),
    ('mode: "0660"', "mode '0660' lets other users write" + WRITABLE),
    ('mode: "06777"', "mode '06777' lets other users write" + WRITABLE),
    ('mode: "04600"', "mode '04600'" + SPECIAL),
    ('mode: "02640"', "mode '02640'" + SPECIAL),
]


def assert_mode_refused(proc, action, why):
    """The run failed on the mode with a clear message that shows a valid one, and no traceback."""
    assert proc.returncode != 0
    shown = proc.stdout.replace('\\"', '"')  # the callback prints the message as JSON
    assert '%s: %s; give it as a quoted octal string, for example mode: "0600"' % (action, why) in shown, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def plant_link(tmp_path, link):
    """A link at ``link`` (a report file's place) to a file of mode 0644 that the report must leave alone."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    os.symlink(str(victim), str(link))
    return victim


def assert_replaced_not_followed(victim, path):
    """The file the link named is as it was; the report is a regular file of mode 0600 in the link's place."""
    assert victim.read_text() == "precious\n"
    assert mode_of(victim) == 0o644
    assert not os.path.islink(str(path))
    assert mode_of(path) == 0o600

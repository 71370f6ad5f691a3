# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the fleet report keeps of a captured host's ``capture`` facts (mem_facts with sosreport) and the lines
both renderings show of it: where the diagnosis comes from and what the capture lacked.

Private to this collection: the API may change without notice.

Controller code, plain Python (no Ansible import). Every text comes from the capture: the renderings escape it.
"""

from __future__ import annotations

from typing import Any

CAPTURE_TEXT = ("type", "path", "hostname", "taken_at", "sos_version")
# a capture's texts are a few dozen characters; a longer one is cut, like the lines it lacks and their count
TEXT_LIMIT = 300
MISSING_LIMIT = 50


def _text(value):
    return None if value is None else str(value)[:TEXT_LIMIT]


def host_capture(facts: Any) -> dict | None:
    """The capture of the facts, its texts checked and cut; None when the facts have none."""
    capture = facts.get("capture") if isinstance(facts, dict) else None
    if not isinstance(capture, dict):
        return None
    out = {key: _text(capture.get(key)) for key in CAPTURE_TEXT}
    missing = capture.get("missing")
    out["missing"] = [_text(line) for line in (missing if isinstance(missing, list) else [])[:MISSING_LIMIT]]
    return out


def capture_origin(capture: dict) -> str:
    """Where the diagnosis comes from, a line of texts from the capture (to be escaped)."""
    return "Diagnosed from %s %s (host name %s, taken %s, sos %s)" % tuple(
        "?" if capture[key] is None else capture[key] for key in CAPTURE_TEXT)


def capture_missing(capture: dict) -> str:
    """The parts the capture lacked, a line (to be escaped)."""
    return "; ".join(capture["missing"]) if capture["missing"] else "nothing missing"

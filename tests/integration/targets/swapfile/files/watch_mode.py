#!/usr/bin/env python
"""Watch paths until STOP exists (or 120 s): record every mode they are seen
with, as JSON {path: ["0600", ...]} in OUT. A file that is ever readable by
others, even for a moment, shows up here.

    watch_mode.py OUT STOP PATH...
"""
import json
import os
import stat
import sys
import time

out, stop, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
seen = {path: set() for path in paths}
deadline = time.monotonic() + 120
with open(out + ".ready", "w") as handle:
    handle.write("watching\n")
while not os.path.exists(stop) and time.monotonic() < deadline:
    for path in paths:
        try:
            seen[path].add("%04o" % stat.S_IMODE(os.lstat(path).st_mode))
        except OSError:
            pass
with open(out, "w") as handle:
    json.dump({path: sorted(modes) for path, modes in seen.items()}, handle)

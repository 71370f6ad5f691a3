#!/usr/bin/env python
"""Kill the swapfile module with SIGKILL while it writes a swap file: a real
crash between allocation and mkswap, for the crash-recovery test.

    crash_module.py COLLECTIONS_PATHS PATH SIZE FSTAB

Runs plugins/modules/swapfile.py as Ansible runs a module on a node (a JSON
arguments file), with allocation dd so that the write takes a while; kills it
by its pid once PATH has some bytes but not all; prints what was left as JSON.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

paths, path, size, fstab = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
for root in paths.split(os.pathsep):
    module = os.path.join(root, "ansible_collections", "memops", "linux", "plugins", "modules", "swapfile.py")
    if os.path.exists(module):
        break
else:
    sys.exit("crash_module.py: memops.linux is in none of %s" % paths)
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
    json.dump({"ANSIBLE_MODULE_ARGS": {"path": path, "size": size, "allocation": "dd", "min_free": 0,
                                       "fstab": fstab}}, handle)
env = dict(os.environ, PYTHONPATH=root)
process = subprocess.Popen([sys.executable, module, handle.name], env=env, stdout=subprocess.DEVNULL)
target = int(size.rstrip("M")) << 20
deadline = time.monotonic() + 60
seen = 0
while process.poll() is None and time.monotonic() < deadline:
    try:
        seen = os.stat(path).st_size
    except OSError:
        seen = 0
    if 0 < seen < target:
        break
killed = process.poll() is None
if killed:
    os.kill(process.pid, signal.SIGKILL)
process.wait()
os.unlink(handle.name)
print(json.dumps({"killed": killed, "size_when_killed": seen, "target": target}))

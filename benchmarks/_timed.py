# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a contender script in this fresh interpreter and say how its time splits.

    python _timed.py SCRIPT [ARGS...]

SCRIPT runs as ``python SCRIPT ARGS...`` would run it (same sys.argv, its
directory first on sys.path), except that its top level runs under another
name than __main__, so that its main() can be called and timed apart:

- load_s: compiling SCRIPT and running its top level (its imports: ansible-core
  and the collection for the module, psutil for the psutil script);
- work_s: main() until it returns or exits (for the module: AnsibleModule's
  argument handling, the gathering and exit_json's output);

and the CPU time (user and system) of each, load_cpu_s and work_cpu_s. The
interpreter's own start-up, before this file runs, is in none of them. The
figures go, as JSON, to the file named by MEMOPS_BENCH_TIMES.
"""

import os
import sys
import time

start, start_cpu = time.perf_counter(), time.process_time()
script = os.path.abspath(sys.argv[1])
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(script)
with open(script, "rb") as handle:
    code = compile(handle.read(), script, "exec")
namespace = {"__name__": "__memops_bench__", "__file__": script, "__builtins__": __builtins__}
exec(code, namespace)  # pylint: disable=exec-used
loaded, loaded_cpu = time.perf_counter(), time.process_time()
status = 0
try:
    namespace["main"]()
except SystemExit as exc:
    status = exc.code
done, done_cpu = time.perf_counter(), time.process_time()
sys.stdout.flush()

import json  # noqa: E402  (after the measured part on purpose)

with open(os.environ["MEMOPS_BENCH_TIMES"], "w") as handle:
    json.dump({"load_s": loaded - start, "work_s": done - loaded,
               "load_cpu_s": loaded_cpu - start_cpu, "work_cpu_s": done_cpu - loaded_cpu}, handle)
sys.exit(status)

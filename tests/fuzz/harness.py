# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running one module's main() in-process as one fuzz case, and judging how it ended.

A case runs in check mode under three guards:

* a time limit (CASE_SECONDS of CPU time, CASE_WALL_SECONDS in all): a case still running then is stopped
  with CaseTimeout, a hang;
* an audit hook (PEP 578) that refuses, and records, every write, every change to a file's
  metadata, every program started, every library loaded (ctypes: swapon/swapoff) and every signal
  sent to a process other than the case's own children: check mode changes nothing, anywhere;
* run_command replaced by a table (ANSWERS), so no systemctl, swapon or journalctl runs.

The oracle (judge): main() ends with SystemExit; what it printed is strict JSON (no NaN or
Infinity); a failure has a non-empty msg without a traceback and no ``exception``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import traceback

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

from ansible_collections.memops.linux.tests.unit.plugins.modules.module_args import patch_module_args

# What one case may take: CASE_SECONDS of CPU time (a loop, a regex that backtracks without end) and
# CASE_WALL_SECONDS of wall-clock time (a read that blocks, on a FIFO): CPU time, so that a loaded machine
# does not turn a slow case into a hang. MEMOPS_FUZZ_CASE_SECONDS changes the first (the second is 6 times it).
CASE_SECONDS = float(os.environ.get("MEMOPS_FUZZ_CASE_SECONDS", "5"))
CASE_WALL_SECONDS = 6 * CASE_SECONDS

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# audit events that change the file system, start programs or load libraries
_CHANGES = frozenset((
    "os.chmod", "os.chown", "os.chflags", "os.lchflags", "os.lchmod", "os.lchown", "os.link", "os.mkdir",
    "os.remove", "os.rename", "os.rmdir", "os.symlink", "os.truncate", "os.utime", "os.setxattr",
    "os.removexattr", "os.mkfifo", "os.mknod",
    "shutil.chown", "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree", "shutil.move",
    "shutil.rmtree", "tempfile.mkstemp", "tempfile.mkdtemp",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn", "os.startfile",
    "ctypes.dlopen", "ctypes.dlsym", "socket.connect", "socket.sendto", "os.killpg",
))


class CaseTimeout(BaseException):
    """A case ran past CASE_SECONDS: a hang. A BaseException, so that no ``except Exception`` in a module
    takes it for an error it handles."""


class Refused(BaseException):
    """What the audit hook raises to stop a write in check mode (also recorded in Guard.violations)."""


class Guard:
    """The audit hook's state: active only while a case's main() runs."""

    active = False
    inside = False
    violations: list = []

    @classmethod
    def hook(cls, event, args):
        if not cls.active or cls.inside:
            return
        what = None
        if event == "open":
            path, _mode, flags = args
            if isinstance(flags, int) and flags & _WRITE_FLAGS:
                what = "open %r for writing (flags %#o)" % (path, flags)
        elif event in _CHANGES:
            what = "%s %r" % (event, args)
        elif event == "os.kill":
            pid, sig = args
            if not (sig == signal.SIGKILL and cls._is_child(pid)):
                what = "os.kill(%r, %r)" % (pid, sig)
        if what:
            cls.violations.append(what)
            raise Refused("check mode must change nothing: " + what)

    @classmethod
    def _is_child(cls, pid):
        cls.inside = True
        try:
            with open("/proc/%d/stat" % pid, "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            return int(fields[1]) == os.getpid()
        except (OSError, ValueError, IndexError):
            return False
        finally:
            cls.inside = False


sys.addaudithook(Guard.hook)


def _alarm(signum, frame):
    what = "CPU" if signum == signal.SIGPROF else "wall-clock"
    raise CaseTimeout("the case ran for more than %g s of %s time"
                      % (CASE_SECONDS if signum == signal.SIGPROF else CASE_WALL_SECONDS, what))


@contextlib.contextmanager
def time_limit():
    previous = {signum: signal.signal(signum, _alarm) for signum in (signal.SIGALRM, signal.SIGPROF)}
    signal.setitimer(signal.ITIMER_PROF, CASE_SECONDS)
    signal.setitimer(signal.ITIMER_REAL, CASE_WALL_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Commands:
    """run_command's stand-in: records each argv and answers from a table the case drew."""

    def __init__(self, answer):
        self.answer = answer
        self.argvs = []

    def __call__(self, module, args, *unused_args, **unused_kwargs):
        argv = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
        self.argvs.append(argv)
        return self.answer(argv)


# What a command may answer: nothing, an error, a missing program, systemctl show output, garbage.
SYSTEMCTL_SHOW = ("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=%(pid)s\n"
                  "ControlGroup=/system.slice/%(unit)s\nMemoryCurrent=%(current)s\nFragmentPath=/lib/systemd/system/"
                  "%(unit)s\nOOMScoreAdjust=0\nDropInPaths=\n")
# Commands that only read: anything else run in check mode is a finding.
READ_ONLY = {
    "systemctl": {"show", "--version", "is-active", "is-enabled", "cat", "status", "list-units", "is-system-running"},
    "dmesg": None, "journalctl": None, "swapon": {"--show", "-s", "--summary"}, "findmnt": None, "uname": None,
    "lsattr": None, "stat": None, "df": None, "blkid": None, "filefrag": None,
}


def read_only(argv):
    """Whether argv only reads: a program of READ_ONLY with one of its verbs (any verb where None)."""
    name = os.path.basename(argv[0]) if argv else ""
    if name not in READ_ONLY:
        return False
    verbs = READ_ONLY[name]
    return verbs is None or any(arg in verbs for arg in argv[1:])


def _strict_constant(name):
    raise ValueError("non-standard JSON constant %s in the result" % name)


class Outcome:
    """How one case ended: ``result`` (the printed JSON), ``error`` (a traceback or a hang), ``argvs``."""

    def __init__(self, result=None, error=None, argvs=(), output=""):
        self.result, self.error, self.argvs, self.output = result, error, list(argvs), output


def _guarded(call):
    """call() under the time limit and the audit hook: (its value, error or None, an upstream OverflowError
    message or None)."""
    Guard.violations = []
    value = error = upstream = None
    try:
        with time_limit():
            Guard.active = True
            try:
                value = call()
            finally:
                Guard.active = False
    except CaseTimeout as exc:
        error = "hang: %s\n%s" % (exc, traceback.format_exc())
    except OverflowError as exc:
        if _upstream(exc):
            upstream = "ansible-core: %r" % exc
            UPSTREAM.append(upstream)
        else:
            error = "traceback:\n" + traceback.format_exc()
    except SystemExit:
        value = SystemExit
    except BaseException as exc:  # pylint: disable=broad-except
        if EXPECTED and isinstance(exc, EXPECTED):
            value = exc
        else:
            error = "traceback:\n" + traceback.format_exc()
    if Guard.violations:
        error = "check mode changed something: %s\n%s" % (Guard.violations, error or "")
    return value, error, upstream


# exceptions that end an action plugin the way fail_json ends a module (set by action_outcome's caller)
EXPECTED = ()


def run_main(module, args, answer, tmpdir):
    """Run module.main() with args in check mode; return its Outcome."""
    args = dict(args, _ansible_check_mode=True, _ansible_remote_tmp=tmpdir, _ansible_keep_remote_files=False,
                _ansible_tmpdir=tmpdir)
    commands = Commands(answer)
    stdout = io.StringIO()
    saved_run, saved_log = basic.AnsibleModule.run_command, basic.AnsibleModule.log

    def run_command(self, argv, *a, **k):  # a method: the module passes itself
        return commands(self, argv, *a, **k)

    basic.AnsibleModule.run_command = run_command
    basic.AnsibleModule.log = lambda self, msg, log_args=None: None  # no syslog/journal entry per case
    # ansible-core keeps warnings in module-level collections, emptied only when a module exits in its own
    # process: without this they would pile up over the cases
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    try:
        with patch_module_args(args), contextlib.redirect_stdout(stdout):
            value, error, upstream = _guarded(module.main)
    finally:
        basic.AnsibleModule.run_command, basic.AnsibleModule.log = saved_run, saved_log
    if value is not SystemExit and not error and not upstream:
        error = "main() returned without exit_json or fail_json"
    if error:
        return Outcome(None, error, commands.argvs, stdout.getvalue())
    if upstream:
        return Outcome({"failed": True, "msg": upstream}, None, commands.argvs, "")
    return Outcome(_parse(stdout.getvalue()), None, commands.argvs, stdout.getvalue())


def run_action(action, task_vars):
    """Run an action plugin's run() in check mode; return its Outcome. An AnsibleError is its failure."""
    from ansible.errors import AnsibleError  # pylint: disable=import-outside-toplevel
    global EXPECTED  # pylint: disable=global-statement
    EXPECTED = (AnsibleError,)
    try:
        value, error, upstream = _guarded(lambda: action.run(task_vars=task_vars))
    finally:
        EXPECTED = ()
    if error:
        return Outcome(None, error)
    if upstream:
        return Outcome({"failed": True, "msg": upstream})
    if isinstance(value, AnsibleError):
        return Outcome({"failed": True, "msg": str(value)})
    try:
        return Outcome(_parse(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        return Outcome({"_not_json": "%s: %r" % (exc, value)})


# ansible-core's own argument checks raise OverflowError, before the module's code runs, for an int option given
# "inf" (check_type_int, ansible-core 2.19+) and a float option given an int past a float's range
# (check_type_float): not this collection's to fix. Such cases pass; UPSTREAM lists them.
UPSTREAM: list = []


def _upstream(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.endswith(os.path.join("module_utils", "common", "validation.py")) \
        and frames[-1].name in ("check_type_int", "check_type_float")


def _parse(output):
    try:
        return json.loads(output, parse_constant=_strict_constant)
    except ValueError as exc:
        return {"_not_json": "%s: %r" % (exc, output[-2000:])}


def judge(outcome, name):
    """Assert that the case ended as a module should; the message says how it did not."""
    assert outcome.error is None, "%s: %s" % (name, outcome.error)
    result = outcome.result
    assert "_not_json" not in result, "%s printed no strict JSON: %s" % (name, result.get("_not_json"))
    assert "exception" not in result, "%s failed with a traceback: %s" % (name, result)
    if result.get("failed"):
        msg = result.get("msg")
        assert isinstance(msg, str) and msg.strip(), "%s failed without a message: %s" % (name, result)
        assert "Traceback" not in msg, "%s failed with a traceback in msg: %s" % (name, msg)
    else:
        assert isinstance(result.get("changed", False), bool), result
    mutating = [argv for argv in outcome.argvs if not read_only(argv)]
    assert not mutating, "%s ran commands that change the host in check mode: %s" % (name, mutating)
    return result


time_sleep = __import__("time").sleep


def argument_spec(module):
    """The argument_spec a module gives AnsibleModule: its ARGUMENT_SPEC, or the one main() builds (caught by
    a stand-in AnsibleModule that stops there)."""
    if hasattr(module, "ARGUMENT_SPEC"):
        return module.ARGUMENT_SPEC
    seen = {}

    class Stop(Exception):
        pass

    def capture(*unused_args, **kwargs):
        seen.update(kwargs["argument_spec"])
        raise Stop()

    saved = module.AnsibleModule
    module.AnsibleModule = capture
    try:
        module.main()
    except Stop:
        pass
    finally:
        module.AnsibleModule = saved
    return seen

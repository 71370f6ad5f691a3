# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/monitoring: the files it copies to hosts, its alert rules (promtool),
its preflight (real ansible-playbook against localhost, check mode), and the
checker script run for real against this host's /proc with a webhook receiver
on a loopback port."""

from __future__ import annotations

import ast
import glob
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
import yaml

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis, _notify
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, COLLECTIONS_ROOT, ansible_playbook
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_diagnosis import POSITIVE, healthy

ROLE = os.path.join(COLLECTION, "roles", "monitoring")
MODULE_UTILS = os.path.join(COLLECTION, "plugins", "module_utils")
CHECKER = os.path.join(ROLE, "files", "memops_check.py")
STATIC_RULES = os.path.join(COLLECTION, "docs", "prometheus", "memops-alerts.rules.yml")
RULES_TEST = os.path.join(COLLECTION, "tests", "prometheus", "memops-alerts.test.yml")
RULES_TESTS = sorted(glob.glob(os.path.join(COLLECTION, "tests", "prometheus", "*.test.yml")))
MONITORING_DOC = os.path.join(COLLECTION, "docs", "monitoring.md")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PACKAGE = "ansible_collections.memops.linux.plugins.module_utils"

needs_playbook = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")
needs_promtool = pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK),
                                    reason="promtool is not installed (Debian package prometheus; scripts/test installs it)")


def _load(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _imports(path):
    """Modules imported by the Python file at ``path``, as dotted names (from-imports with their names)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update("%s.%s" % (node.module, alias.name) for alias in node.names)
    return names


# ---------------------------------------------------------------- what is copied to hosts


def test_copied_module_utils_are_closed_under_imports_and_import_no_ansible():
    copied = set(_load("vars", "main.yml")["_monitoring_module_utils"])
    wanted = {name + ".py" for name in (n[len(PACKAGE) + 1:] for n in _imports(CHECKER) if n.startswith(PACKAGE + "."))}
    assert wanted and wanted <= copied, "the checker imports %s, not copied" % sorted(wanted - copied)
    for name in sorted(copied):
        imports = _imports(os.path.join(MODULE_UTILS, name))
        ansible = sorted(n for n in imports if (n == "ansible" or n.startswith("ansible.")))
        assert ansible == [], "%s imports %s: the checker runs without Ansible" % (name, ansible)
        for module in imports:
            if module.startswith(PACKAGE + "._"):
                needed = module[len(PACKAGE) + 1:].split(".")[0] + ".py"
                assert needed in copied, "%s imports %s, which the role does not copy" % (name, needed)
            else:
                top = module.split(".")[0]
                assert top == "ansible_collections" or top in sys.stdlib_module_names or top == "__future__", \
                    "%s imports %s, which is not in the standard library" % (name, module)


def test_checker_imports_only_the_standard_library():
    for module in _imports(CHECKER):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top in ("__future__", "ansible_collections"), module


def test_role_checks_the_checker_config_keys():
    """The JSON the role writes has exactly the keys the checker knows (it refuses unknown ones)."""
    spec = importlib.util.spec_from_file_location("memops_check", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    written = set(_load("vars", "main.yml")["_monitoring_checker_config"])
    assert written <= set(checker.DEFAULTS), sorted(written - set(checker.DEFAULTS))


@pytest.mark.parametrize("url, shown", [
    ("https://hooks.slack.com/services/T0A1B2C3D/B0123456789/abcdefghijklmnopQRSTUVWX",
     "https://hooks.slack.com/services/***/***/***"),
    ("https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX",
     "https://hooks.slack.com/services/***/***/***"),
    ("https://contoso.webhook.office.com/webhookb2/0f1e2d3c-aaaa-bbbb-cccc-123456789abc@72f988bf-86f1-41af"
     "/IncomingWebhook/0123456789abcdef/0f1e2d3c-aaaa", "https://contoso.webhook.office.com/***/***/IncomingWebhook/***/***"),
    ("https://discord.com/api/webhooks/123456789012345678/AbCdEf-ghIJ_klmnOPqrstUvWxYz", "https://discord.com/api/webhooks/***/***"),
    ("https://user:hunter2@alerts.example.com:8443/hook?token=secret#frag", "https://alerts.example.com:8443/hook"),
    ("http://[::1]:9000/hook/", "http://[::1]:9000/hook/"),
    ("/moved?token=secret", "/moved"),
    ("http://[bad", "(an unparsable URL)"),
])
def test_the_checker_logs_a_webhook_without_its_token(url, shown):
    spec = importlib.util.spec_from_file_location("memops_check", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    assert checker.describe_url(url) == shown
    assert checker.describe({"type": "webhook", "url": url}) == "webhook " + shown


def test_the_role_never_shows_the_notify_targets():
    """--diff would print monitoring.json, the targets' URLs with their tokens, and so would the task result."""
    tasks = {task["name"]: task for task in _load("tasks", "install.yml")}
    config_task = tasks["Write the checker's configuration"]
    assert config_task["diff"] is False
    assert config_task["no_log"] is True
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["monitoring_notify"]["no_log"] is True


# ---------------------------------------------------------------- alert rules


def _render_rules(tmp_path, extra_vars=None):
    """The role's rules template rendered by real Ansible with the role's defaults and vars."""
    dest = tmp_path / "rules.yml"
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Render the alert rules",
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [os.path.join(ROLE, "defaults", "main.yml"), os.path.join(ROLE, "vars", "main.yml")],
        "tasks": [{"name": "Render", "ansible.builtin.template": {
            "src": os.path.join(ROLE, "templates", "memops-alerts.rules.yml.j2"), "dest": str(dest), "mode": "0644"}}],
    }]))
    command = [ansible_playbook(), "-i", "localhost,", "-c", "local", str(playbook),
               "-e", "ansible_python_interpreter=%s" % sys.executable]
    for key, value in (extra_vars or {}).items():
        command += ["-e", "%s=%s" % (key, value)]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest.read_text()


@needs_playbook
def test_shipped_rules_are_the_template_rendered_with_the_defaults(tmp_path):
    rendered = _render_rules(tmp_path)
    with open(STATIC_RULES, encoding="utf-8") as handle:
        shipped = handle.read()
    assert rendered == shipped, (
        "docs/prometheus/memops-alerts.rules.yml differs from the template rendered with the role's defaults; "
        "copy %s over it" % (tmp_path / "rules.yml"))


@needs_playbook
@needs_promtool
def test_rules_rendered_with_other_values_are_valid(tmp_path):
    text = _render_rules(tmp_path, {"monitoring_interval": "90s", "monitoring_alert_for": "10m",
                                    "monitoring_alert_swap_used_pct": 70})
    rules = {rule["alert"]: rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]}
    assert rules["MemopsCheckStale"]["expr"].endswith("> 270")
    assert rules["SwapUsageHigh"]["expr"].endswith("> 70")
    assert rules["OOMKillDetected"]["expr"] == "increase(node_vmstat_oom_kill[10m]) > 0"
    promtool("check", "rules", tmp_path / "rules.yml")


def promtool(*args):
    """Run promtool; it must succeed. Returns its output."""
    proc = subprocess.run([PROMTOOL] + [str(arg) for arg in args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _shipped_rules():
    with open(STATIC_RULES, encoding="utf-8") as handle:
        return {rule["alert"]: rule for group in yaml.safe_load(handle)["groups"] for rule in group["rules"]}


def _shipped_rule_list():
    with open(STATIC_RULES, encoding="utf-8") as handle:
        return [rule for group in yaml.safe_load(handle)["groups"] for rule in group["rules"]]


def test_shipped_rules_hold_the_guides_alerts_and_ours():
    assert sorted(_shipped_rules()) == sorted([
        "HighMemoryUsage", "OOMKillDetected", "SwapUsageHigh", "MemopsHealthCritical", "MemopsCheckStale",
        "CommitLimitNearlyReached", "SlabUnreclaimableHigh", "MemoryFragmented", "MemoryPressureSome",
        "MemoryPressureFull", "MemoryLeakSuspected", "MemoryCgroupNearLimit", "MemoryCgroupOOMKill"])


@needs_promtool
def test_promtool_check_rules_on_the_shipped_rules():
    assert "SUCCESS: %d rules found" % len(_shipped_rule_list()) in promtool("check", "rules", STATIC_RULES)


@needs_promtool
@pytest.mark.parametrize("test_file", RULES_TESTS, ids=os.path.basename)
def test_promtool_test_rules_fires_and_stays_silent(test_file):
    assert "SUCCESS" in promtool("test", "rules", test_file)


def _rule_cases():
    """{(alert, severity): {"fires": [...], "near_miss": [...]}} from the promtool test files: an alert fires where
    an exp_alert of that severity expects it; a near miss is an instance named near-* in the same test, evaluated
    for that alert, that no exp_alert of that severity names (just under the threshold, or short of for:)."""
    cases = {}
    for path in RULES_TESTS:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        assert document["rule_files"] == ["../../docs/prometheus/memops-alerts.rules.yml"], path
        for test in document["tests"]:
            near = {instance for series in test["input_series"]
                    for instance in re.findall(r'instance="(near-[^"]*)"', series["series"])}
            for check in test.get("alert_rule_test") or []:
                fired = {}
                for expected in check["exp_alerts"]:
                    labels = expected["exp_labels"]
                    fired.setdefault(labels["severity"], set()).add(labels["instance"])
                    cases.setdefault((check["alertname"], labels["severity"]), {"fires": [], "near_miss": []})[
                        "fires"].append("%s at %s in %s" % (labels["instance"], check["eval_time"], os.path.basename(path)))
                for severity in ("warning", "critical"):
                    for instance in sorted(near - fired.get(severity, set())):
                        cases.setdefault((check["alertname"], severity), {"fires": [], "near_miss": []})[
                            "near_miss"].append("%s at %s" % (instance, check["eval_time"]))
    return cases


def test_every_alert_has_a_firing_and_a_near_miss_case():
    """A new alert (or a new severity of one) without promtool cases fails here."""
    cases = _rule_cases()
    for rule in _shipped_rule_list():
        key = (rule["alert"], rule["labels"]["severity"])
        assert key in cases and cases[key]["fires"], "%s (%s) fires in no case of tests/prometheus/" % key
        assert cases[key]["near_miss"], "%s (%s) has no near-miss case (an instance near-*) in tests/prometheus/" % key


# each alert threshold of the role and the diagnosis threshold of the same cause
AGREEING_THRESHOLDS = {
    "monitoring_alert_memory_used_pct": "memory_used_pct_high",
    "monitoring_alert_swap_used_pct": "swap_used_pct_exhausted",
    "monitoring_alert_commit_pct": "commit_pct_monitor",
    "monitoring_alert_commit_critical_pct": "commit_pct_critical",
    "monitoring_alert_slab_unreclaimable_pct": "slab_unreclaimable_pct_monitor",
    "monitoring_alert_fragmentation_order": "fragmentation_order",
    "monitoring_alert_fragmentation_unusable_index": "fragmentation_unusable_index",
    "monitoring_alert_fragmentation_min_free_pct": "fragmentation_min_free_pct",
    "monitoring_alert_psi_some_pct": "psi_some_avg10",
    "monitoring_alert_psi_full_pct": "psi_full_avg10",
    "monitoring_alert_leak_exhaustion_hours": "leak_exhaustion_critical_hours",
    "monitoring_alert_cgroup_limit_pct": "cgroup_limit_pct_monitor",
    "monitoring_alert_cgroup_limit_critical_pct": "cgroup_limit_pct_critical",
}


def test_alert_thresholds_default_to_the_diagnosis_thresholds():
    defaults = _load("defaults", "main.yml")
    alert_vars = {name for name in defaults if name.startswith("monitoring_alert_") and name not in (
        "monitoring_alert_rules_dest", "monitoring_alert_for", "monitoring_alert_stale_intervals",
        "monitoring_alert_runbook_url")}
    assert alert_vars == set(AGREEING_THRESHOLDS)
    for variable, threshold in AGREEING_THRESHOLDS.items():
        # leak_exhaustion_critical_hours: the shared contract's default (24) until the long-term leak rule lands
        expected = _diagnosis.DEFAULT_THRESHOLDS.get(threshold, 24 if threshold == "leak_exhaustion_critical_hours" else None)
        assert defaults[variable] == expected, "%s is %r, the diagnosis' %s %r" % (
            variable, defaults[variable], threshold, expected)


def _group(path, name, kind, pct, oom_kills=0):
    limit = 512 << 20
    return {"path": path, "name": name, "kind": kind, "container_id": None, "runtime": None, "pod_uid": None,
            "usage_bytes": int(limit * pct / 100), "working_set_bytes": int(limit * pct / 100), "limit_bytes": limit,
            "limit_pct": pct, "limit_hits": 0, "oom_count": oom_kills, "oom_kill_count": oom_kills, "pressure": None}


def _leak_trend(facts):
    facts["leaks"] = {"suspects": [{"kind": "process", "name": "java", "pid": 1234, "bytes": 3 << 30,
                                    "growth_bytes_per_hour": 200 << 20, "span_seconds": 8 * 3600.0, "fit": 0.98,
                                    "exhaustion_seconds": 20 * 3600.0}]}


# the problems of the alerts' findings beyond the diagnosis tests' POSITIVE cases
EXTRA_PROBLEMS = {
    "cgroup.near_limit": lambda f: f.setdefault("cgroup", {}).update(
        groups={"near_limit": [_group("/system.slice/app.service", "app.service", "service", 95.0)]}),
    "cgroup.oom_kills": lambda f: f.setdefault("cgroup", {}).update(
        groups={"oom_kills": [_group("/system.slice/app.service", "app.service", "service", 60.0, oom_kills=1)]}),
    "leak.trend": _leak_trend,
}


def _remedy_of(finding_id):
    """The remedy the diagnosis gives for ``finding_id``, from facts that make the problem. leak.trend: the
    short-sample leak finding's remedy where the long-term rule is not part of this tree yet (the same fix)."""
    makers = [make for fid, make, dummy in POSITIVE if fid == finding_id]
    if finding_id in EXTRA_PROBLEMS:
        makers.append(EXTRA_PROBLEMS[finding_id])
    for make in makers:
        facts = healthy()
        make(facts)
        for finding in _diagnosis.diagnose(facts, _diagnosis.merge_thresholds({}))["findings"]:
            if finding["id"] == finding_id:
                return finding["remedy"]
    if finding_id == "leak.trend" and not hasattr(_diagnosis, "rule_leak_trend"):
        return _remedy_of("leak.suspect")
    raise AssertionError("no facts in the tests make the finding %s" % finding_id)


def test_each_alert_names_its_finding_and_the_fix_the_diagnosis_gives():
    with open(MONITORING_DOC, encoding="utf-8") as handle:
        headings = re.findall(r"^#+ (.+)$", handle.read(), re.M)
    anchors = {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}
    for rule in _shipped_rule_list():
        notes = rule["annotations"]
        assert notes["runbook_url"].startswith("https://github.com/memops/linux/blob/main/docs/monitoring.md#")
        anchor = notes["runbook_url"].split("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in anchors, \
            "%s: docs/monitoring.md has no section %s" % (rule["alert"], anchor)
        if rule["alert"] in ("MemopsHealthCritical", "MemopsCheckStale"):
            continue  # every critical finding; the checker itself
        remedy = _remedy_of(notes["finding"])
        places = [" ".join(part for part in (remedy["role"], remedy["variable"]) if part)] if remedy["role"] else []
        places += [remedy["module"]] if remedy["module"] else []
        assert notes["fix"] == "; ".join(places), "%s: fix %r, the diagnosis of %s names %r" % (
            rule["alert"], notes["fix"], notes["finding"], places)


@needs_promtool
def test_swap_alert_expression_has_no_series_without_swap(tmp_path):
    """The shipped SwapUsageHigh expression itself (without its threshold) yields
    nothing, not NaN, for a host whose SwapTotal is 0."""
    expr = _shipped_rules()["SwapUsageHigh"]["expr"].rsplit(" > ", 1)[0]
    (tmp_path / "empty.rules.yml").write_text("groups: []\n")
    (tmp_path / "swap.test.yml").write_text(yaml.safe_dump({
        "rule_files": ["empty.rules.yml"],
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'node_memory_SwapTotal_bytes{instance="noswap"}', "values": "0x10"},
                {"series": 'node_memory_SwapFree_bytes{instance="noswap"}', "values": "0x10"},
                {"series": 'node_memory_SwapTotal_bytes{instance="full"}', "values": "200x10"},
                {"series": 'node_memory_SwapFree_bytes{instance="full"}', "values": "20x10"},
            ],
            "promql_expr_test": [{"expr": expr, "eval_time": "5m",
                                  "exp_samples": [{"labels": '{instance="full"}', "value": 90}]}],
        }],
    }))
    promtool("test", "rules", tmp_path / "swap.test.yml")


# ---------------------------------------------------------------- preflight (real ansible-playbook, check mode)


def _run_role(tmp_path, role_vars):
    playbook = tmp_path / "role.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Apply the monitoring role",
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [{"role": "memops.linux.monitoring", "vars": role_vars}],
    }]))
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1")
    return subprocess.run([ansible_playbook(), "-i", str(inventory), str(playbook), "--check"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


@needs_playbook
@pytest.mark.parametrize("role_vars, message", [
    ({"monitoring_thresholds": {"available_low": 5}},
     "memops.linux.monitoring: monitoring_thresholds: unknown key 'available_low'; known keys are "),
    ({"monitoring_thresholds": {"available_pct_low": "lots"}},
     "monitoring_thresholds: available_pct_low must be a number like 5.0, got 'lots'"),
    ({"monitoring_interval": "5 fortnights"}, "monitoring_interval is 5 fortnights; expected seconds (300)"),
    ({"monitoring_interval": 5}, "at least 10 seconds"),
    ({"monitoring_notify": [{"type": "webhook", "url": "hooks.example.com"}]},
     "monitoring_notify[0]: a webhook target needs url: starting with http:// or https://"),
    ({"monitoring_notify": [{"type": "pager"}]}, "monitoring_notify[0]: expected {type: mail, to: ADDRESS}"),
    ({"monitoring_notify": [{"type": "mail", "to": "ops@example.com\n"}]},
     "monitoring_notify[0]: a mail target needs to: an address"),
    ({"monitoring_notify": [{"type": "mail", "to": "ops@example.com", "from": "me@example.com\r\nBcc: x@y"}]},
     "monitoring_notify[0]: from must be one line, a sender such as memops@example.com"),
    ({"monitoring_notify": [{"type": "mail", "to": "ops@example.com", "from": ""}]},
     "monitoring_notify[0]: from must be one line"),
    ({"monitoring_alert_for": "five minutes"}, "monitoring_alert_for is five minutes; expected a Prometheus duration"),
    ({"monitoring_alert_commit_pct": 95}, "monitoring_alert_commit_pct is 95; expected below monitoring_alert_commit_critical_pct (95)"),
    ({"monitoring_alert_cgroup_limit_critical_pct": 80},
     "monitoring_alert_cgroup_limit_pct is 90; expected below monitoring_alert_cgroup_limit_critical_pct (80)"),
    ({"monitoring_alert_fragmentation_unusable_index": 90}, "monitoring_alert_fragmentation_unusable_index is 90; expected a share"),
    ({"monitoring_notify_findings": ["Memory used"]},
     "monitoring_notify_findings holds Memory used; expected finding ids such as memory.used_high"),
    ({"monitoring_textfile_dir": "relative/dir"}, "monitoring_textfile_dir is relative/dir; expected an absolute path"),
    ({"monitoring_alert_rules_dest": "/nonexistent/rules/memops.yml"},
     "monitoring_alert_rules_dest /nonexistent/rules/memops.yml: the directory /nonexistent/rules does not exist"),
])
def test_preflight_refuses_bad_variables_with_the_reason(tmp_path, role_vars, message):
    proc = _run_role(tmp_path, role_vars)
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stdout, proc.stdout
    assert "TASK [memops.linux.monitoring : Install the checker]" not in proc.stdout


@needs_playbook
@pytest.mark.skipif(os.path.exists("/run/systemd/system"), reason="this host runs systemd")
def test_preflight_refuses_a_host_without_systemd(tmp_path):
    proc = _run_role(tmp_path, {"monitoring_textfile_dir": str(tmp_path / "textfile")})
    assert proc.returncode != 0, proc.stdout
    assert "the checker runs from a systemd timer, and systemd is not PID 1 on this host" in proc.stdout, proc.stdout
    assert not (tmp_path / "textfile").exists()


# ---------------------------------------------------------------- the checker, for real


class Receiver:
    """An HTTP server on a loopback port that keeps every POST body; ``fail``
    makes it answer 500, ``redirect`` answer a POST with that redirect status
    to /moved, which answers a GET with 200 (and counts it in ``gets``)."""

    def __init__(self):
        self.bodies = []
        self.fail = False
        self.redirect = None
        self.gets = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                receiver.gets.append(self.path)
                self.send_response(200)
                self.end_headers()

            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.redirect:
                    self.send_response(receiver.redirect)
                    self.send_header("Location", "/moved?token=secret")
                elif receiver.fail:
                    self.send_response(500)
                else:
                    receiver.bodies.append((self.headers.get("Content-Type"), json.loads(body)))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook?token=secret" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


# No rule fires on any host with these, whatever its load, swap or OOM kills do
# between two checks; oom.kills stays a steady "monitor" where kills happened.
CALM = {"available_pct_low": 0, "available_pct_tight": 0, "memory_used_pct_high": 101, "swap_used_pct_high": 101,
        "swap_used_pct_exhausted": 101, "psi_some_avg10": 101, "psi_full_avg10": 101, "oom_recent_seconds": 0,
        "commit_pct_monitor": 1000, "commit_pct_critical": 1000, "fragmentation_unusable_index": 2,
        "slab_reclaimable_pct_monitor": 101, "slab_unreclaimable_pct_monitor": 101,
        "slab_unreclaimable_pct_critical": 101}
# Any unreclaimable slab makes the host critical.
CRITICAL = dict(CALM, slab_unreclaimable_pct_monitor=0, slab_unreclaimable_pct_critical=0)


def run_checker(tmp_path, **config):
    settings = {"textfile_dir": str(tmp_path / "textfile"), "state_file": str(tmp_path / "state" / "state.json"),
                "kernel_log": False, "timeout": 5, "host": "test-host"}
    settings.update(config)
    (tmp_path / "config.json").write_text(json.dumps(settings))
    return subprocess.run([sys.executable, CHECKER, "--config", str(tmp_path / "config.json"),
                           "--lib", COLLECTIONS_ROOT], capture_output=True, text=True, timeout=120, check=False)


def test_checker_notifies_once_per_change_and_on_recovery(tmp_path, receiver):
    target = [{"type": "webhook", "url": receiver.url}]
    first = run_checker(tmp_path, thresholds=CRITICAL, notify=target)
    assert first.returncode == 0, first.stderr
    assert "health critical" in first.stderr
    assert len(receiver.bodies) == 1
    content_type, body = receiver.bodies[0]
    assert content_type == "application/json"
    assert (body["event"], body["status"], body["host"]) == ("alert", "critical", "test-host")
    assert "slab.unreclaimable_high" in [f["id"] for f in body["findings"]]
    assert body["top_consumers"] and body["top_consumers"][0]["rss_bytes"] > 0
    state = (tmp_path / "state" / "state.json").read_text()
    assert "secret" not in state and oct(os.stat(tmp_path / "state" / "state.json").st_mode & 0o777) == "0o600"

    again = run_checker(tmp_path, thresholds=CRITICAL, notify=target)
    assert again.returncode == 0, again.stderr
    assert len(receiver.bodies) == 1, "an unchanged problem was sent again"

    calm = run_checker(tmp_path, thresholds=CALM, notify=target)
    assert calm.returncode == 0, calm.stderr
    assert len(receiver.bodies) == 2
    assert receiver.bodies[1][1]["event"] == "resolved"
    assert receiver.bodies[1][1]["previous_status"] == "critical"

    run_checker(tmp_path, thresholds=CALM, notify=target)
    assert len(receiver.bodies) == 2


# Memory in use above 0%: memory.used_high (monitor) on any host, nothing else.
USED_HIGH = dict(CALM, memory_used_pct_high=0)


def test_the_role_notifies_the_guides_findings_by_default():
    assert _load("defaults", "main.yml")["monitoring_notify_findings"] == list(_notify.NOTIFY_FINDINGS)
    assert _load("defaults", "main.yml")["monitoring_notify_on"] == "critical"


def test_memory_used_above_the_line_notifies_by_default_and_resolves(tmp_path, receiver):
    """The guide mails when more than 90% is used: with the default notify_on (critical) and notify_findings,
    memory.used_high (monitor) is sent, and resolved when it is gone."""
    target = [{"type": "webhook", "url": receiver.url}]
    first = run_checker(tmp_path, thresholds=USED_HIGH, notify=target)
    assert first.returncode == 0, first.stderr
    assert "health monitor: memory.used_high" in first.stderr
    assert [(body["event"], body["status"]) for dummy, body in receiver.bodies] == [("alert", "monitor")]
    # oom.kills (monitor) too where this host has had OOM kills since boot
    assert "memory.used_high" in [f["id"] for f in receiver.bodies[0][1]["findings"]]
    calm = run_checker(tmp_path, thresholds=CALM, notify=target)
    assert calm.returncode == 0, calm.stderr
    assert [body["event"] for dummy, body in receiver.bodies] == ["alert", "resolved"]


def test_without_notify_findings_only_notify_on_counts(tmp_path, receiver):
    proc = run_checker(tmp_path, thresholds=USED_HIGH, notify=[{"type": "webhook", "url": receiver.url}],
                       notify_findings=[])
    assert proc.returncode == 0, proc.stderr
    assert "health monitor: memory.used_high" in proc.stderr
    assert receiver.bodies == []


def test_advice_never_notifies_even_when_listed(tmp_path, receiver):
    """A running process named in critical_processes without OOM protection makes the advice
    oom.critical_unprotected (info): the checker writes it as a metric and sends nothing, even with the finding
    listed in notify_findings."""
    sleeper = subprocess.Popen(["sleep", "120"])  # pylint: disable=consider-using-with
    try:
        proc = run_checker(tmp_path, thresholds=dict(CALM, critical_processes=["sleep"]),
                           notify_findings=["oom.critical_unprotected"],
                           notify=[{"type": "webhook", "url": receiver.url}])
    finally:
        sleeper.kill()
        sleeper.wait()
    assert proc.returncode == 0, proc.stderr
    metrics = (tmp_path / "textfile" / "memops.prom").read_text()
    assert 'memops_finding{id="oom.critical_unprotected",severity="info"} 1\n' in metrics
    assert "memops_health_status 2\n" not in metrics
    assert receiver.bodies == []


def test_the_checker_writes_the_metrics_the_cause_alerts_read(tmp_path):
    proc = run_checker(tmp_path, thresholds=CALM)
    assert proc.returncode == 0, proc.stderr
    metrics = (tmp_path / "textfile" / "memops.prom").read_text()
    with open("/proc/sys/vm/overcommit_memory", encoding="ascii") as handle:
        assert "memops_overcommit_memory %d\n" % int(handle.read()) in metrics
    # order 0: no free block is smaller than one page
    assert re.search(r'^memops_fragmentation_unusable_index\{node="0",zone="\w+",order="0"\} 0\.0$', metrics, re.M), metrics
    assert "# TYPE memops_cgroup_usage_ratio gauge\n" in metrics


MEMORY_V1 = "/sys/fs/cgroup/memory"
LOCK = "/run/lock/memops-linux-tests.lock"


@pytest.fixture
def memory_cgroup():
    """A real cgroup v1 memory group with a 64 MiB limit, under the tests' lock; removed afterwards."""
    if not os.access(os.path.join(MEMORY_V1, "cgroup.procs"), os.W_OK):
        pytest.skip("needs root and the cgroup v1 memory controller at %s" % MEMORY_V1)
    import fcntl  # pylint: disable=import-outside-toplevel
    with open(LOCK, "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        name = "memops-alerts-%d" % os.getpid()
        directory = os.path.join(MEMORY_V1, name)
        os.mkdir(directory)
        try:
            with open(os.path.join(directory, "memory.limit_in_bytes"), "w", encoding="ascii") as handle:
                handle.write("%d" % (64 << 20))
            yield name, directory
        finally:
            with open(os.path.join(directory, "cgroup.procs"), encoding="ascii") as handle:
                for pid in handle.read().split():
                    os.kill(int(pid), 9)
            deadline = time.monotonic() + 10  # the killed processes leave the group as they exit
            while True:
                try:
                    os.rmdir(directory)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


def _in_group(directory, code):
    """A Python process that joins the group before it runs ``code``."""
    join = "open(%r, 'w').write(str(__import__('os').getpid())); " % os.path.join(directory, "cgroup.procs")
    return subprocess.Popen([sys.executable, "-c", join + code], stdout=subprocess.PIPE)  # pylint: disable=consider-using-with


def test_a_real_cgroup_near_its_limit_and_its_oom_kill_are_metrics(tmp_path, memory_cgroup):
    """The metrics MemoryCgroupNearLimit and MemoryCgroupOOMKill read, from a real group at 60 of its 64 MiB
    and a real OOM kill in it."""
    name, directory = memory_cgroup
    labels = '{path="/%s",name="/%s",kind="group"}' % (name, name)  # a group that is no unit is named by its path
    holder = _in_group(directory, "import sys, time; b = bytearray(58 << 20); print('ready', flush=True); time.sleep(120)")
    try:
        assert holder.stdout.readline() == b"ready\n"
        proc = run_checker(tmp_path, thresholds=CALM)
        assert proc.returncode == 0, proc.stderr
        metrics = (tmp_path / "textfile" / "memops.prom").read_text()
        ratio = re.search(r"^memops_cgroup_usage_ratio%s (\S+)$" % re.escape(labels), metrics, re.M)
        assert ratio and 0.9 <= float(ratio.group(1)) <= 1.0, metrics
        assert "memops_cgroup_oom_kills_total%s" % labels not in metrics
    finally:
        holder.kill()
        holder.wait()
    victim = _in_group(directory, "b = bytearray(200 << 20)")
    assert victim.wait(timeout=60) == -9
    proc = run_checker(tmp_path, thresholds=CALM)
    assert proc.returncode == 0, proc.stderr
    assert "memops_cgroup_oom_kills_total%s 1\n" % labels in (tmp_path / "textfile" / "memops.prom").read_text()


def test_a_failing_webhook_is_logged_retried_and_does_not_stop_the_metrics(tmp_path, receiver):
    target = [{"type": "webhook", "url": receiver.url}]
    receiver.fail = True
    failed = run_checker(tmp_path, thresholds=CRITICAL, notify=target)
    assert failed.returncode == 0, failed.stderr
    assert "alert webhook http://127.0.0.1:%d/hook not delivered: HTTP 500" % receiver.server.server_address[1] \
        in failed.stderr
    assert "secret" not in failed.stderr
    metrics = (tmp_path / "textfile" / "memops.prom").read_text()
    assert "memops_health_status 2\n" in metrics
    receiver.fail = False
    retried = run_checker(tmp_path, thresholds=CRITICAL, notify=target)
    assert retried.returncode == 0, retried.stderr
    assert [body["event"] for dummy, body in receiver.bodies] == ["alert"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_webhook_is_not_delivered(tmp_path, receiver, status):
    """urllib resends a POST redirected by 301/302/303 as a GET without its body: that is no delivery."""
    target = [{"type": "webhook", "url": receiver.url}]
    receiver.redirect = status
    redirected = run_checker(tmp_path, thresholds=CRITICAL, notify=target)
    assert redirected.returncode == 0, redirected.stderr
    port = receiver.server.server_address[1]
    assert "alert webhook http://127.0.0.1:%d/hook not delivered: HTTP %d" % (port, status) in redirected.stderr
    assert "the webhook redirects to /moved, and a redirected POST loses its body" in redirected.stderr
    assert "secret" not in redirected.stderr
    assert receiver.gets == [] and receiver.bodies == []
    receiver.redirect = None
    retried = run_checker(tmp_path, thresholds=CRITICAL, notify=target)
    assert retried.returncode == 0, retried.stderr
    assert [body["event"] for dummy, body in receiver.bodies] == ["alert"]


def test_an_unreachable_webhook_times_out_quietly(tmp_path):
    proc = run_checker(tmp_path, thresholds=CRITICAL, notify=[{"type": "webhook", "url": "http://127.0.0.1:9/"}])
    assert proc.returncode == 0, proc.stderr
    assert "not delivered" in proc.stderr and "trying again at the next check" in proc.stderr
    assert (tmp_path / "textfile" / "memops.prom").exists()


def test_mail_goes_through_sendmail_t(tmp_path):
    spec = importlib.util.spec_from_file_location("memops_check", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    captured = tmp_path / "mail.txt"
    fake = tmp_path / "sendmail"
    fake.write_text("#!/bin/sh\necho \"$@\" > %s.args\ncat > %s\n" % (captured, captured))
    fake.chmod(0o755)
    checker.send_mail("To: ops@example.com\nSubject: s\n\nbody\n", 5, sendmail=str(fake))
    assert captured.read_text() == "To: ops@example.com\nSubject: s\n\nbody\n"
    assert (tmp_path / "mail.txt.args").read_text().split() == ["-t", "-oi"]
    with pytest.raises(checker.DeliveryError, match="is missing: install a mail transfer agent"):
        checker.send_mail("x", 5, sendmail=str(tmp_path / "none"))


@pytest.mark.parametrize("config, message", [
    ({"thresholds": {"nope": 1}}, "bad configuration: thresholds: unknown key 'nope'"),
    ({"notify_on": "warning"}, "bad configuration: notify_on must be one of monitor, critical"),
    ({"notify": [{"type": "webhook", "url": "ftp://x"}]}, "bad configuration: notify[0]: url 'ftp://x' must start"),
    ({"colour": "red"}, "unknown keys colour"),
    ({"top": "five"}, 'bad configuration: top must be a whole number from 0 to 1000, got "five"'),
    ({"top": -1}, "bad configuration: top must be a whole number from 0 to 1000, got -1"),
    ({"top": True}, "bad configuration: top must be a whole number from 0 to 1000, got true"),
    ({"timeout": "10"}, 'bad configuration: timeout must be a number of seconds from 1 to 3600, got "10"'),
    ({"kernel_log": "no"}, 'bad configuration: kernel_log must be true or false, got "no"'),
    ({"textfile_dir": "relative"}, 'bad configuration: textfile_dir must be an absolute path, got "relative"'),
    ({"metrics_file": "../x.prom"}, "bad configuration: metrics_file must be a file name without /"),
    ({"host": "db1\r\nBcc: x@y"}, "bad configuration: host must be null or one line of text"),
    ({"notify": [{"type": "mail", "to": "ops@example.com", "from": "me@example.com\r\nBcc: x@y"}]},
     "bad configuration: notify[0]: from must be one line of printable text"),
    ({"notify": [{"type": "mail", "to": "ops@example.com\n"}]}, "bad configuration: notify[0]: to must be one line"),
    ({"redact": ["("]}, "bad configuration: redact[0] '(' is not a valid regular expression"),
    ({"redact": "--password"}, "bad configuration: redact must be null (the default patterns) or a list"),
    ({"notify_findings": "memory.used_high"},
     "bad configuration: notify_findings must be a list of finding ids such as memory.used_high, got 'memory.used_high'"),
])
def test_checker_refuses_a_bad_configuration(tmp_path, config, message):
    proc = run_checker(tmp_path, **config)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "textfile").exists()


def test_a_message_that_cannot_be_built_fails_its_target_only(tmp_path, receiver):
    """A header the email package refuses (here a sender with CR/LF, which the configuration check would have
    refused) is logged for its target; the targets after it are still sent and the state is still written."""
    spec = importlib.util.spec_from_file_location("memops_check", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    utils = checker.load_utils(COLLECTIONS_ROOT)
    mail = {"type": "mail", "to": "ops@example.com", "from": "memops@example.com\r\nBcc: all@example.com"}
    hook = {"type": "webhook", "url": receiver.url}
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"sent": {utils["notify"].target_key(hook): "damaged"}}))
    config = dict(checker.DEFAULTS, notify=[mail, hook], state_file=str(state_file), host="h", timeout=5)
    finding = {"id": "x.y", "severity": "critical", "title": "t", "evidence": []}
    health = {"status": "critical", "findings": [finding]}
    checker.notify(utils, config, {}, health, "2026-12-03T11:00:00Z")
    assert [body["event"] for dummy, body in receiver.bodies] == ["alert"]
    state = json.loads(state_file.read_text())
    assert state["status"] == "critical"
    assert state["sent"][utils["notify"].target_key(hook)]["status"] == "critical"
    assert state["sent"][utils["notify"].target_key(mail)] is None


def test_command_lines_in_notifications_are_redacted(tmp_path, receiver):
    """The evidence of a finding may quote a command line: what the checker sends is redacted first."""
    spec = importlib.util.spec_from_file_location("memops_check", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    utils = checker.load_utils(COLLECTIONS_ROOT)
    real_gather = utils["memfacts"].gather

    def gather(*args, **kwargs):
        facts = real_gather(*args, **kwargs)
        facts["health"]["status"] = "critical"
        facts["health"]["findings"].append({"id": "test.quoted", "severity": "critical", "title": "quoted",
                                            "evidence": ["jvm: RSS 1Gi, java -jar a.jar --password=hunter2"],
                                            "remedy": {}, "data": {}})
        return facts

    utils["memfacts"] = type("Gatherer", (), {"gather": staticmethod(gather), "SUBSETS": utils["memfacts"].SUBSETS})
    config = dict(checker.DEFAULTS, textfile_dir=str(tmp_path / "textfile"), state_file=str(tmp_path / "state.json"),
                  kernel_log=False, host="h", timeout=5, notify=[{"type": "webhook", "url": receiver.url}])
    checker.check(utils, config)
    evidence = [f["evidence"] for f in receiver.bodies[0][1]["findings"] if f["id"] == "test.quoted"]
    assert evidence == [["jvm: RSS 1Gi, java -jar a.jar --password=<redacted>"]]
    assert "hunter2" not in json.dumps(receiver.bodies) + (tmp_path / "textfile" / "memops.prom").read_text()


def test_links_in_place_of_the_metrics_and_the_state_are_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o640)
    for place in (tmp_path / "textfile" / "memops.prom", tmp_path / "state" / "state.json"):
        place.parent.mkdir()
        os.symlink(str(victim), str(place))
    proc = run_checker(tmp_path, thresholds=CRITICAL, notify=[{"type": "webhook", "url": "http://127.0.0.1:9/"}])
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious\n" and os.stat(victim).st_mode & 0o777 == 0o640
    assert not os.path.islink(str(tmp_path / "textfile" / "memops.prom"))
    assert "memops_health_status 2\n" in (tmp_path / "textfile" / "memops.prom").read_text()
    assert json.loads((tmp_path / "state" / "state.json").read_text())["status"] == "critical"


def test_checker_fails_when_the_metrics_cannot_be_written(tmp_path):
    blocker = tmp_path / "textfile"
    blocker.write_text("a file where the directory should be")
    proc = run_checker(tmp_path)
    assert proc.returncode == 1
    assert "check failed: cannot write" in proc.stderr

# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A headless Chromium driven over the DevTools protocol, standard library only.

Chromium's ``--remote-debugging-pipe`` reads protocol commands from fd 3 and
writes replies and events to fd 4, each message JSON ended by a NUL byte: no
websocket client, no port, no npm. Enough of the protocol for tests: open a
page, evaluate JavaScript, press keys, take a screenshot, and collect console
errors, uncaught exceptions and browser log errors (CSP violations, failed loads).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--hide-scrollbars", "--remote-debugging-pipe")


def find_chromium():
    """Path of a Chromium binary, or None. CHROMIUM overrides the search."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _high_fd(fd):
    """fd moved to a number of 10 or more, close-on-exec as os.pipe makes it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class BrowserError(RuntimeError):
    """Chromium exited, timed out or answered a command with an error."""


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, binary, width=1400, height=1000, timeout=30.0):
        self.binary = binary
        self.width = width
        self.height = height
        self.timeout = timeout
        self.events = []
        self._next_id = 0
        self._buffer = b""
        self._session = None

    def __enter__(self):
        self._profile = tempfile.mkdtemp(prefix="memops-chromium-")
        # pipe ends at 10 and above, so that moving them to 3 and 4 in the child overwrites neither
        to_browser_r, self._to_browser, self._from_browser, from_browser_w = (
            _high_fd(fd) for fd in os.pipe() + os.pipe())

        def child_fds():
            # dup2 leaves 3 and 4 inheritable; close_fds=False keeps them, and Python's own
            # descriptors are close-on-exec anyway (PEP 446)
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._process = subprocess.Popen(
            [self.binary, *FLAGS, "--user-data-dir=%s" % self._profile,
             "--window-size=%d,%d" % (self.width, self.height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            close_fds=False, preexec_fn=child_fds)  # pylint: disable=subprocess-popen-preexec-fn
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self.send("Target.createTarget", url="about:blank", session=False)["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1,
                  mobile=False)
        return self

    def __exit__(self, *exc):
        try:
            self.send("Browser.close", session=False)
        except BrowserError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stderr.close()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("no answer from Chromium within %.0fs" % self.timeout)
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium exited: %s" % self._process.stderr.read().decode("utf-8", "replace")[-2000:])
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, session=True, **params):
        """Send one command, wait for its answer, keep the events that arrive meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session and self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method):
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == method for e in self.events):
            event = self._read_message(deadline)
            if "method" in event:
                self.events.append(event)

    # -- what tests use

    def open(self, url):
        """Load url and wait for its load event; always a fresh document, even when only the #fragment differs."""
        for target in ("about:blank", url):
            self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
            self.send("Page.navigate", url=target)
            self.wait_for("Page.loadEventFired")

    def evaluate(self, expression):
        """The value of a JavaScript expression (JSON-able); a thrown exception is a BrowserError."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError("JavaScript failed: %s" % json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def press(self, key, code, key_code, text=None):
        """Press and release a key in the focused element, as a keyboard does.

        ``text`` is what the key types (Enter types "\\r", Space " "); without it the
        browser sees a raw key that activates nothing.
        """
        down = {"type": "keyDown", "text": text} if text else {"type": "rawKeyDown"}
        for event in (down, {"type": "keyUp"}):
            self.send("Input.dispatchKeyEvent", key=key, code=code, windowsVirtualKeyCode=key_code,
                      nativeVirtualKeyCode=key_code, **event)

    def screenshot(self, path, full_page_height=None, clip=None):
        """Save a PNG of the page (taller than the window when full_page_height is given), or of the part of the
        page in clip ({x, y, width, height} in page coordinates, as an element's bounding box plus the scroll)."""
        params = {"format": "png"}
        if full_page_height:
            clip = {"x": 0, "y": 0, "width": self.width, "height": full_page_height}
        if clip:
            params.update(captureBeyondViewport=True, clip=dict(clip, scale=1))
        data = self.send("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))

    def problems(self):
        """Console errors and warnings, uncaught exceptions and browser log errors seen so far, as text."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append("console.%s: %s" % (params["type"], " ".join(
                    str(a.get("value", a.get("description"))) for a in params.get("args", []))))
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append("uncaught: %s" % (details.get("exception", {}).get("description") or details.get("text")))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                entry = params["entry"]
                found.append("log.%s (%s): %s %s" % (
                    entry["level"], entry.get("source"), entry.get("text"), entry.get("url", "")))
        return found

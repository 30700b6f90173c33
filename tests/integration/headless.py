"""Render a local HTML file in headless Chromium (Debian's `chromium`) and
report what a person opening it would get: console errors, uncaught
exceptions, browser log errors (CSP violations, failed loads), every request
the page made, a full-page screenshot, and the values of expressions
evaluated in the page.

Chromium is driven with the DevTools protocol over a pipe
(--remote-debugging-pipe: JSON messages separated by NUL on file
descriptors 3 and 4), so no port, no WebSocket library and no network are
involved. It runs as root here, hence --no-sandbox, with a new empty
profile, and is killed when the page is done, also when a test fails.

    with headless.Browser() as b:
        page = b.render("/tmp/report.html", width=1200)
    page.errors          # [] when the console stayed clean
    page.requests        # URLs requested (the file itself first)
    page.screenshot      # PNG bytes of the whole page
    page.values["n"]     # results of the expressions given to render()
"""
import base64
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--remote-debugging-pipe"]


class BrowserError(Exception):
    pass


class Page:
    def __init__(self):
        self.errors = []        # console errors, exceptions, log errors: readable strings
        self.messages = []      # every console message: (level, text)
        self.requests = []      # URLs
        self.screenshot = b""
        self.values = {}
        self.size = (0, 0)      # CSS pixels of the whole page


def png_size(data):
    """(width, height) of a PNG, from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise BrowserError("not a PNG")
    return struct.unpack(">II", data[16:24])


class Browser:
    def __init__(self, binary=CHROMIUM, timeout=60):
        self.binary, self.timeout = binary, timeout
        self.proc = None
        self.profile = None
        self._buf = b""
        self._id = 0
        self._events = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.profile = tempfile.mkdtemp(prefix="fwdauth-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # fd 3: what Chromium reads, fd 4: what it writes (dup first: a
            # pipe end may already sit at 3 or 4)
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [self.binary, *FLAGS, "--user-data-dir=" + self.profile, "about:blank"],
            preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
            for fd in (self._to_chrome, self._from_chrome):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
        if self.profile:
            shutil.rmtree(self.profile, True)
            self.profile = None

    def stderr(self):
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-3000:]

    # -- the protocol ------------------------------------------------------------
    def send(self, method, params=None, session=None):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise BrowserError("no answer from Chromium in time\n" + self.stderr())
        r, _, _ = select.select([self._from_chrome], [], [], left)
        if not r:
            raise BrowserError("no answer from Chromium in time\n" + self.stderr())
        data = os.read(self._from_chrome, 1 << 20)
        if not data:
            raise BrowserError("Chromium closed the pipe (exit %s)\n%s" %
                               (self.proc.poll(), self.stderr()))
        self._buf += data

    def _messages(self):
        while b"\0" in self._buf:
            raw, self._buf = self._buf.split(b"\0", 1)
            yield json.loads(raw)

    def call(self, method, params=None, session=None):
        want = self.send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            for m in self._messages():
                if m.get("id") == want:
                    if "error" in m:
                        raise BrowserError("%s: %s" % (method, m["error"]))
                    return m.get("result", {})
                self._events.append(m)
            self._read(deadline)

    def wait_event(self, method, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, m in enumerate(self._events):
                if m.get("method") == method:
                    del self._events[i]
                    return m
            for m in self._messages():
                self._events.append(m)
            if any(m.get("method") == method for m in self._events):
                continue
            self._read(deadline)

    def drain(self, seconds):
        """Collect events for a while (late console messages)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r, _, _ = select.select([self._from_chrome], [], [], deadline - time.monotonic())
            if r:
                data = os.read(self._from_chrome, 1 << 20)
                if not data:
                    break
                self._buf += data
                for m in self._messages():
                    self._events.append(m)

    # -- one page ----------------------------------------------------------------
    def render(self, path, width=1200, height=900, expressions=None):
        """Open file path, wait for it to load, and return a Page."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            self.call(method, session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        self._events = []
        self.call("Page.navigate", {"url": "file://" + os.path.abspath(path)}, session=session)
        self.wait_event("Page.loadEventFired")
        self.drain(0.5)
        page = Page()
        for expr_name, expr in (expressions or {}).items():
            r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                          session=session)
            if "exceptionDetails" in r:
                raise BrowserError("%s: %s" % (expr, r["exceptionDetails"]))
            page.values[expr_name] = r["result"].get("value")
        metrics = self.call("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        page.size = (int(size["width"]), int(size["height"]))
        shot = self.call("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True,
                          "clip": {"x": 0, "y": 0, "width": page.size[0],
                                   "height": page.size[1], "scale": 1}},
                         session=session)
        page.screenshot = base64.b64decode(shot["data"])
        self.drain(0.2)
        for m in self._events:
            method, p = m.get("method"), m.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                page.messages.append((p["type"], text))
                if p["type"] in ("error", "assert"):
                    page.errors.append("console.%s: %s" % (p["type"], text))
            elif method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                page.errors.append("exception: %s" % d.get("exception", {}).get(
                    "description", d.get("text")))
            elif method == "Log.entryAdded":
                e = p["entry"]
                page.messages.append((e["level"], e["text"]))
                if e["level"] == "error":
                    page.errors.append("log (%s): %s" % (e.get("source"), e["text"]))
            elif method == "Network.requestWillBeSent":
                page.requests.append(p["request"]["url"])
        self.call("Target.closeTarget", {"targetId": target})
        return page

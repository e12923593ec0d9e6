"""Headless Chromium from the system packages, driven over the DevTools protocol (issue #23
point 5): open a page, fill and submit a form, press Tab, run axe-core, take a screenshot.

Only what the page tests need: one browser, one tab, commands answered in order. The browser is
Debian's ``chromium`` (``make browser`` installs it, and axe-core from the npm registry into
``.cache/axe``); nothing is downloaded at test time.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: What the pages must pass: every WCAG 2.0 and 2.1 rule at levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Tab:
    """One page target over its DevTools websocket."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, seen in enumerate(self.events):
                if seen.get("method") == event:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def open(self, url: str) -> int:
        """Navigate and wait for the load; the HTTP status of the document."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        return self._loaded()

    def _loaded(self) -> int:
        self.wait_for("Page.loadEventFired")
        statuses = [
            e["params"]["response"]["status"]
            for e in self.events
            if e.get("method") == "Network.responseReceived"
            and e["params"].get("type") == "Document"
        ]
        self.events.clear()
        return int(statuses[-1]) if statuses else 0

    def submit(self, form_selector: str, fields: dict[str, str]) -> int:
        """Fill a form's fields and submit it as a person would (its button), then wait."""
        self.events.clear()
        script = (
            f"(() => {{ const f = document.querySelector({json.dumps(form_selector)});"
            f"const values = {json.dumps(fields)};"
            "for (const [k, v] of Object.entries(values)) { f.elements[k].value = v; }"
            "f.querySelector('button[type=submit]').click(); })()"
        )
        self.evaluate(script)
        return self._loaded()

    def evaluate(self, expression: str, *, wait: bool = False) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=wait
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def press_tab(self) -> str:
        """Tab once; → the focused element's tag and text (keyboard navigation)."""
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Tab",
                code="Tab",
                windowsVirtualKeyCode=9,
                nativeVirtualKeyCode=9,
            )
        return str(
            self.evaluate(
                "document.activeElement.tagName + ' ' + document.activeElement.textContent.trim()"
            )
        )

    def axe_violations(self, axe_source: str) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.1 AA violations on the open page (DevTools injects it: the page's
        own CSP allows no inline script, and rightly so)."""
        self.evaluate(axe_source)
        found = self.evaluate(
            "axe.run(document, {runOnly: {type: 'tag', values: "
            + json.dumps(WCAG_AA)
            + "}}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, "
            "nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))",
            wait=True,
        )
        return list(found)

    def screenshot(self, path: Path, width: int = 1280) -> None:
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=min(height, 2400),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.ws.close()


@contextmanager
def chromium() -> Iterator[Tab]:
    """A headless Chromium with a profile of its own; its first tab."""
    binary = chromium_binary()
    assert binary is not None
    # Chromium's helper processes may still write to the profile for a moment after the browser
    # has exited; a cleanup that met such a file failed the test it served (seen once in CI):
    # the profile is removed after a short wait for them, and what is left is not an error.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(  # noqa: S603
            [
                binary,
                "--headless=new",
                "--no-sandbox",  # the CI container runs as root
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LANG": "en_US.UTF-8"},
        )
        try:
            port = _devtools_port(process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
                targets = json.load(answer)
            page = next(t for t in targets if t["type"] == "page")
            tab = Tab(page["webSocketDebuggerUrl"])
            tab.send("Page.enable")
            tab.send("Network.enable")
            try:
                yield tab
            finally:
                tab.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            _remove_profile(profile)


def _remove_profile(profile: str) -> None:
    """The profile's content removed, tried again while Chromium's helpers let go of it."""
    for _ in range(10):
        shutil.rmtree(profile, ignore_errors=True)
        if not os.path.exists(profile):
            return
        time.sleep(0.2)


def _devtools_port(process: subprocess.Popen[str]) -> int:
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            # Keep reading what it writes, so that a full pipe never stalls the browser.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return int(found.group(1))
    raise RuntimeError("chromium did not start its DevTools endpoint")

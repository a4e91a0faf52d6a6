"""Headless Chromium driven over the DevTools protocol: one page stays open and is polled in real
time until the words a test expects are on it, then its text, HTML and a screenshot are taken.

`--dump-dom` and `--screenshot` capture when *virtual* time runs out, which on a busy machine
comes before Streamlit's script has rendered, and each capture closes its session, which
cancels the run it started. A page held open does neither. `websockets` comes with streamlit.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ablate_helpers import free_port


@dataclass
class Rendered:
    text: str  # document.body.innerText
    html: str
    missing: list[str]  # the expected words not on the page when the wait ended


def _json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def render(browser: str, url: str, words: tuple[str, ...], profile: Path, shot: Path | None = None,
           timeout: float = 240.0, width: int = 1400, height: int = 1000) -> Rendered:
    """Open URL, wait until every word is in the page's text (or TIMEOUT s), screenshot to SHOT."""
    from websockets.sync.client import connect

    port = free_port()
    proc = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", f"--remote-debugging-port={port}",
         f"--user-data-dir={profile}", f"--window-size={width},{height}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        target = None
        while target is None:
            try:
                target = next((t for t in _json(f"http://127.0.0.1:{port}/json/list") if t.get("type") == "page"), None)
            except OSError:
                pass
            if target is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium's DevTools did not come up on port {port}")
                time.sleep(0.5)
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            ids = iter(range(1, 1_000_000))

            def call(method: str, **params) -> dict:
                n = next(ids)
                ws.send(json.dumps({"id": n, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv(timeout=120))
                    if msg.get("id") == n:
                        return msg.get("result", {})

            def evaluate(expr: str) -> str:
                return call("Runtime.evaluate", expression=expr, returnByValue=True).get("result", {}).get("value") or ""

            text = ""
            while True:
                text = evaluate("document.body ? document.body.innerText : ''")
                missing = [w for w in words if w not in text]
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(1.0)
            time.sleep(1.0)  # let the last elements paint
            html = evaluate("document.documentElement.outerHTML")
            if shot is not None:
                shot.write_bytes(base64.b64decode(call("Page.captureScreenshot", format="png")["data"]))
            return Rendered(text=text, html=html, missing=missing)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def served_app(app: str, home: Path, log: Path):
    """`streamlit run APP` on a free port for WORKBENCH_HOME=HOME, as `workbench app` runs it; yields its URL."""
    port = free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    with log.open("w") as out:  # a pipe nobody reads can fill and stall the server
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)

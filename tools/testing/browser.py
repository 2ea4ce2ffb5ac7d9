"""Headless Chromium driven over the DevTools protocol, for the web-extension tests (no extra Python packages).

    with Browser.start() as page:                      # Debian's /usr/bin/chromium, or $CHROMIUM
        page.navigate(server.url)
        page.wait_for("!!window.app?.graph")
        value = page.evaluate("1 + 1")                 # awaited if it is a promise; JSON-able values come back
        page.screenshot(path)

Chromium runs with a fresh profile and the background-networking flags off (this machine has no outside network).
The protocol client is aiohttp's websocket (a ComfyUI dependency), run on a private event loop.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,900", "--remote-debugging-port=0", "--remote-allow-origins=*")


def find_chromium() -> Optional[str]:
    """``$CHROMIUM``, else chromium / chromium-browser / google-chrome on PATH; None if there is none."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One Chromium process and one page; use :meth:`start` as a context manager."""

    def __init__(self, process: subprocess.Popen, profile: Path, ws_url: str):
        self.process, self.profile = process, profile
        self.loop = asyncio.new_event_loop()
        self.ids = itertools.count(1)
        self.errors: list[str] = []  # uncaught exceptions and console errors of the page
        # console warnings: (text, the script URLs on the call stack), e.g. to find who used a deprecated API
        self.warnings: list[tuple[str, list[str]]] = []
        self.loop.run_until_complete(self._connect(ws_url))

    @classmethod
    def start(cls, executable: Optional[str] = None, timeout: float = 30.0) -> "Browser":
        exe = executable or find_chromium()
        if exe is None:
            raise BrowserError("no Chromium found: install Debian's chromium or set $CHROMIUM")
        profile = Path(tempfile.mkdtemp(prefix="iv-chromium-"))
        proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                shutil.rmtree(profile, ignore_errors=True)
                raise BrowserError(f"Chromium did not open its DevTools port within {timeout} s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        import urllib.request

        for _ in range(50):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return cls(proc, profile, pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.1)
        proc.kill()
        raise BrowserError("Chromium opened no page")

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._ws.close())
            self.loop.run_until_complete(self._session.close())
        finally:
            self.loop.close()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol -----------------------------------------------------------------------------------------------------

    async def _connect(self, ws_url: str) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(ws_url, max_msg_size=0)
        await self._call("Runtime.enable")
        await self._call("Page.enable")

    async def _call(self, method: str, params: Optional[dict] = None, timeout: float = 60.0) -> dict:
        msg_id = next(self.ids)
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self._ws.receive(), max(0.1, deadline - time.monotonic()))
            data = json.loads(msg.data)
            if data.get("id") == msg_id:
                if "error" in data:
                    raise BrowserError(f"{method}: {data['error']}")
                return data.get("result", {})
            self._event(data)

    def _event(self, data: dict) -> None:
        method, params = data.get("method"), data.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(params.get("exceptionDetails", {}).get("exception", {}).get("description", "?"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            if params["type"] == "error":
                self.errors.append(text)
            else:
                frames = params.get("stackTrace", {}).get("callFrames", [])
                self.warnings.append((text, [f.get("url", "") for f in frames]))

    def call(self, method: str, params: Optional[dict] = None, timeout: float = 60.0) -> dict:
        return self.loop.run_until_complete(self._call(method, params, timeout))

    # -- page ----------------------------------------------------------------------------------------------------------

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str, timeout: float = 60.0) -> Any:
        """Value of a JS expression (promises awaited); a thrown error raises :class:`BrowserError`."""
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                        timeout)
        if "exceptionDetails" in res:
            detail = res["exceptionDetails"]
            raise BrowserError(detail.get("exception", {}).get("description") or detail.get("text", "?"))
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 90.0, poll: float = 0.25) -> Any:
        """Poll until a JS expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BrowserError:
                value = None
            if value:
                return value
            time.sleep(poll)
        raise BrowserError(f"timed out after {timeout} s waiting for: {expression}; page errors: {self.errors[-5:]}")

    def screenshot(self, path: Path | str) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

"""`workbench app`: the Streamlit comparison view on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from workbench.cli.common import console, err_console

app = typer.Typer(help="Open the comparison view in the browser.")

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"


@app.callback(invoke_without_command=True)
def run(
    port: int = typer.Option(8501, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    browser: bool = typer.Option(False, "--browser/--headless",
                                 help="Open a browser window (default: headless, serve only)."),
):
    """Launch the Streamlit view of the catalog in WORKBENCH_HOME (local address only)."""
    if not APP_FILE.exists():
        raise FileNotFoundError(f"{APP_FILE} not found (the view ships with the source tree)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[bold yellow]warning:[/] binding {host}: anyone who can reach this machine on port {port} "
                          "can read the catalog through the view (no authentication)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_FILE), "--server.address", host,
           "--server.port", str(port), "--server.headless", str(not browser).lower(), "--browser.gatherUsageStats", "false",
           "--server.showEmailPrompt", "false",  # Streamlit's first-run prompt: on no terminal it exits 255
           "--client.toolbarMode", "viewer",  # no developer toolbar or Deploy button
           "--server.fileWatcherType", "none"]  # no source reloads: the view is not being edited, and
    # on a machine with many files inotify overflows and the script never starts
    console.print(f"workbench view on http://{host}:{port}  (Ctrl-C to stop)")
    env = {**os.environ, "WORKBENCH_HOME": str(Path(os.environ.get("WORKBENCH_HOME", ".workbench")).resolve())}
    raise typer.Exit(subprocess.call(cmd, env=env, stdin=subprocess.DEVNULL))

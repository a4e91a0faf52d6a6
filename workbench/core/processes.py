"""Is the process that claimed some work (a temp file, a running task or run) still alive?"""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int | None) -> bool:
    """True while `pid` runs. A zombie (a killed child not yet reaped) counts as dead, and so
    does no pid at all; a process we may not signal counts as alive."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): the signal said it exists
        return True


def start_token(pid: int) -> str:
    """When `pid` started (clock ticks since boot, from /proc), so a reused pid is told apart from
    the process that held something; '-' where it cannot be read (no /proc, or no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"

"""Writer intents: how a writer tells `gc` what it is about to write, before it writes it.

Every writer of a workspace file that a catalog row will point at (a dataset body, a run
directory) first registers an intent under `intents/`: the paths it will write, its process
(host:pid:start-token) and when it started. It removes the intent only after the catalog row
that references those paths is committed. `gc` holds the workspace's writer lock exclusively
while it looks and deletes, and a writer holds it (shared) while it registers its intent, so:

- an intent registered before gc looked is seen by gc, which skips its paths and everything
  younger than the oldest live writer;
- an intent registered after gc looked waits until gc has finished deleting;
- an intent whose process is gone (kill -9) no longer protects anything, and gc removes it.

The lock is an advisory `flock` on `intents/.lock`; it is held for milliseconds by writers.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workbench.processes import pid_alive, start_token

# an intent from another host cannot be checked by pid; after this long it no longer protects
FOREIGN_STALE_S = 24 * 3600.0


@dataclass(frozen=True)
class Intent:
    file: Path
    host: str
    pid: int
    token: str
    started: float  # time.time() when it was registered
    what: str
    paths: tuple[Path, ...]

    def live(self) -> bool:
        if self.host != socket.gethostname():
            return time.time() - self.started < FOREIGN_STALE_S
        return pid_alive(self.pid) and start_token(self.pid) == self.token

    def covers(self, path: Path) -> bool:
        path = path.resolve()
        return any(path == p or p in path.parents or path in p.parents for p in self.paths)


def _dir(home: Path) -> Path:
    d = home / "intents"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def writer_lock(home: Path, exclusive: bool) -> Iterator[None]:
    """The workspace's writer lock: shared for writers registering an intent, exclusive for gc."""
    with open(_dir(home) / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def intent(home: Path, what: str, *paths: Path) -> Iterator[Intent]:
    """Register the intent to write `paths` (files or directories) for the duration of the block.

    Leave the block only after the catalog row that references the paths is committed."""
    pid = os.getpid()
    me = Intent(_dir(home) / f"{pid}-{uuid.uuid4().hex[:12]}.json", socket.gethostname(), pid,
                start_token(pid), time.time(), what, tuple(Path(p).resolve() for p in paths))
    body = json.dumps({"host": me.host, "pid": me.pid, "token": me.token, "started": me.started,
                       "what": what, "paths": [str(p) for p in me.paths]})
    with writer_lock(home, exclusive=False):
        tmp = me.file.with_suffix(".part")
        tmp.write_text(body)
        os.replace(tmp, me.file)
    try:
        yield me
    finally:
        me.file.unlink(missing_ok=True)


def read_intents(home: Path) -> list[Intent]:
    """Every registered intent, live or not (an unreadable file reads as a live foreign one)."""
    found = []
    for f in sorted(_dir(home).glob("*.json")):
        try:
            d = json.loads(f.read_text())
            found.append(Intent(f, d["host"], int(d["pid"]), d["token"], float(d["started"]), d["what"],
                                tuple(Path(p) for p in d["paths"])))
        except FileNotFoundError:
            continue  # its writer finished meanwhile
        except (ValueError, KeyError, TypeError):  # half-written by hand or a foreign tool: keep it safe
            found.append(Intent(f, "?", 0, "-", f.stat().st_mtime, f"unreadable intent {f.name}", ()))
    return found


def clear_dead(intents: list[Intent]) -> list[Intent]:
    """Remove the files of intents whose process is gone; return the live ones."""
    live = []
    for i in intents:
        if i.live():
            live.append(i)
        else:
            i.file.unlink(missing_ok=True)
    return live

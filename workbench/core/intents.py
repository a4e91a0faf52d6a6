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

This module is also the one home of "is that writer still alive?": `Holder` (host:pid:start-token)
is the identity an intent, an ablation task lease (workbench.ablate.lease) and a run row record,
and `dead_temp` tells a temp file of a killed writer (`<name>.tmp-<pid>`) from a live one.
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

from workbench.core.processes import pid_alive, start_token

# an intent from another host cannot be checked by pid; after this long it no longer protects
FOREIGN_STALE_S = 24 * 3600.0


@dataclass(frozen=True)
class Holder:
    """A writing process: host, pid and start token (so a reused pid is told apart)."""

    host: str
    pid: int
    token: str

    @classmethod
    def me(cls) -> "Holder":
        pid = os.getpid()
        return cls(socket.gethostname(), pid, start_token(pid))

    @classmethod
    def parse(cls, text: str) -> "Holder":
        host, pid, token = text.rsplit(":", 2)
        return cls(host, int(pid), token)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"

    @property
    def local(self) -> bool:
        return self.host == socket.gethostname()

    def gone(self) -> bool:
        """True when this holder runs on this host and its process no longer exists (or its pid
        now belongs to another process). Another host's holder is never known gone from here:
        a heartbeat or an age decides that."""
        if not self.local:
            return False
        if not pid_alive(self.pid):
            return True
        return self.token != "-" and start_token(self.pid) not in (self.token, "-")  # pid reused


def dead_temp(path: Path) -> bool:
    """A temp file or folder (`<name>.tmp-<pid>`) whose writing process is gone."""
    pid = path.name.rsplit("-", 1)[-1]
    return ".tmp-" in path.name and pid.isdigit() and not pid_alive(int(pid))


def dead_temps(directory: Path) -> list[Path]:
    """The temp files and folders of killed writers directly in `directory`."""
    return sorted(p for p in directory.glob("*.tmp-*") if dead_temp(p)) if directory.is_dir() else []


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
        holder = Holder(self.host, self.pid, self.token)
        if not holder.local:
            return time.time() - self.started < FOREIGN_STALE_S
        return not holder.gone()

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

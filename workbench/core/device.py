"""Where work runs: the accelerator, the training mode (nf4 QLoRA on CUDA, LoRA on CPU) with
the exact bitsandbytes settings, and the generation backend for evals and synth (vLLM on CUDA
when installed, else HF generate).

Every decision is a pure function of an `Accelerator` (detected, or given by a test), so the
GPU path's choices and the configs it passes are checked on CPU. The GPU path itself has not
run on a GPU yet (see the README's "GPU" section).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.core.errors import WorkbenchError

MODES = ("qlora-nf4", "lora-bf16", "lora-fp32")
QUANTS = ("auto", "nf4", "none")
BACKENDS = ("auto", "hf", "vllm")
BACKEND_ENV = "WORKBENCH_GEN_BACKEND"  # auto | hf | vllm; the CLI's --backend wins over it
NF4_CPU_NOTE = "on CPU nf4 measured ~17x slower than fp32 LoRA"


@dataclass(frozen=True)
class Accelerator:
    cuda: bool
    name: str = ""
    bf16: bool = False
    vram_mb: float | None = None
    count: int = 0


def detect() -> Accelerator:
    if _cpu_only_torch():  # known without importing torch (seconds)
        return Accelerator(False)
    import torch

    if not torch.cuda.is_available():
        return Accelerator(False)
    props = torch.cuda.get_device_properties(0)
    return Accelerator(True, torch.cuda.get_device_name(0), bool(torch.cuda.is_bf16_supported()),
                       props.total_memory / 2**20, torch.cuda.device_count())


@functools.lru_cache(maxsize=1)
def _cpu_only_torch() -> bool:
    """True for a CPU-only torch wheel (its version ends in +cpu): it has no CUDA to find."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch").endswith("+cpu")
    except PackageNotFoundError:
        return False


class ModelError(WorkbenchError, RuntimeError):
    """A base model that cannot be found, loaded or placed; the message says what to do
    (re-exported by workbench.core.models)."""


def _error(msg: str) -> ModelError:
    return ModelError(msg)


# --------------------------------------------------------------------------------------
# Training: mode, compute dtype, bitsandbytes settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainPlacement:
    """How a run trains: recorded in the run's meta (`placement`), so the report can say it."""

    mode: str
    reason: str
    device: str  # cuda | cpu
    compute_dtype: str  # bfloat16 | float16 | float32
    quantization: dict | None  # bitsandbytes settings, None for plain LoRA

    def record(self) -> dict:
        return asdict(self)


def choose_mode(quant: str = "auto", acc: Accelerator | None = None) -> tuple[str, str]:
    """(mode, reason): QLoRA nf4 on CUDA, LoRA fp32 on CPU unless nf4 is forced."""
    p = placement(quant, acc)
    return p.mode, p.reason


def compute_dtype(mode: str, acc: Accelerator) -> str:
    if not acc.cuda:
        return "float32"  # CPU kernels: fp32 compute is the fast and safe one
    if mode == "lora-fp32":
        return "float32"
    return "bfloat16" if acc.bf16 else "float16"


def nf4_settings(dtype: str) -> dict:
    """BitsAndBytesConfig keyword arguments for nf4 QLoRA (dtype as a name; see bnb_config)."""
    return {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
            "bnb_4bit_compute_dtype": dtype}


def placement(quant: str = "auto", acc: Accelerator | None = None) -> TrainPlacement:
    acc = detect() if acc is None else acc
    if quant not in QUANTS:
        raise _error(f"unknown quant {quant!r}: use {', '.join(QUANTS)}")
    if quant == "nf4":
        mode, reason = "qlora-nf4", "nf4 forced with --quant nf4" + ("" if acc.cuda else f" ({NF4_CPU_NOTE})")
    elif quant == "none":
        mode, reason = ("lora-bf16" if acc.cuda and acc.bf16 else "lora-fp32"), "quantization off (--quant none)"
    elif acc.cuda:
        mode, reason = "qlora-nf4", f"CUDA device {acc.name}: 4-bit nf4 QLoRA"
    else:
        mode, reason = "lora-fp32", "no CUDA device: LoRA in fp32 (nf4 on CPU measured ~17x slower per step)"
    return mode_placement(mode, acc, reason)


def mode_placement(mode: str, acc: Accelerator | None = None, reason: str = "") -> TrainPlacement:
    acc = detect() if acc is None else acc
    if mode not in MODES:
        raise _error(f"unknown training mode {mode!r}: one of {', '.join(MODES)}")
    dtype = compute_dtype(mode, acc)
    return TrainPlacement(mode, reason, "cuda" if acc.cuda else "cpu", dtype,
                          nf4_settings(dtype) if mode == "qlora-nf4" else None)


def bnb_config(p: TrainPlacement):
    """The transformers BitsAndBytesConfig for a placement (None for plain LoRA); builds on CPU too."""
    if p.quantization is None:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    kw = dict(p.quantization)
    kw["bnb_4bit_compute_dtype"] = getattr(torch, kw["bnb_4bit_compute_dtype"])
    return BitsAndBytesConfig(**kw)


def load_kwargs(p: TrainPlacement) -> dict:
    """What `AutoModelForCausalLM.from_pretrained` gets for this placement."""
    import torch

    kw: dict = {"dtype": getattr(torch, p.compute_dtype)}
    if p.quantization is not None:
        kw["quantization_config"] = bnb_config(p)
        kw["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))} if p.device == "cuda" else {"": "cpu"}
    return kw


# --------------------------------------------------------------------------------------
# Generation: vLLM or HF
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenBackend:
    name: str  # hf | vllm
    reason: str


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def generation_backend(requested: str | None = None, acc: Accelerator | None = None,
                       has_vllm: bool | None = None) -> GenBackend:
    """vLLM on CUDA when it is installed (the `[gpu]` extra), else HF generate; `requested` (or
    WORKBENCH_GEN_BACKEND) can force hf, or demand vllm (an error where it cannot run)."""
    requested = requested or os.environ.get(BACKEND_ENV) or "auto"
    if requested not in BACKENDS:
        raise _error(f"unknown generation backend {requested!r}: use {', '.join(BACKENDS)}")
    has_vllm = vllm_installed() if has_vllm is None else has_vllm
    if requested == "hf":
        return GenBackend("hf", "HF generate (asked for)")
    acc = detect() if acc is None else acc
    missing = None if has_vllm else "vllm is not installed (pip install -e .[gpu])"
    if missing is None and not acc.cuda:
        missing = "no CUDA device (vLLM needs a GPU here)"
    if requested == "vllm":
        if missing:
            raise _error(f"generation backend vllm asked for, but {missing}")
        return GenBackend("vllm", "vLLM (asked for)")
    if missing:
        return GenBackend("hf", f"HF generate: {missing}")
    return GenBackend("vllm", f"vLLM on {acc.name}")


def _lora_rank(adapter_dir: str | None) -> int:
    if not adapter_dir:
        return 16
    r = int(json.loads((Path(adapter_dir) / "adapter_config.json").read_text()).get("r", 16))
    return next(x for x in (8, 16, 32, 64, 128, 256, 320, 512) if x >= r)  # the ranks vLLM accepts


def vllm_lm_args(pretrained: str, adapter_dir: str | None, batch_size: int | str = "auto",
                 acc: Accelerator | None = None) -> dict:
    """lm-eval's `vllm` model arguments: the base model, the run's adapter as a LoRA, bf16 where
    supported, and a memory share that leaves room for a training process on the same GPU."""
    acc = detect() if acc is None else acc
    args = {"pretrained": pretrained, "dtype": "bfloat16" if acc.bf16 else "float16", "batch_size": batch_size,
            "gpu_memory_utilization": 0.5, "seed": 0, "trust_remote_code": False}
    if adapter_dir:
        args.update(lora_local_path=adapter_dir, max_lora_rank=_lora_rank(adapter_dir))
    return args


# --------------------------------------------------------------------------------------
# Ray: the cluster engine of the ray executor (workbench.ablate.ray_executor) and of
# distributed dedup (workbench.curate.ray_dedup); imported lazily, it is slow to import
# --------------------------------------------------------------------------------------


class RayMissing(WorkbenchError, ImportError):
    """Ray is asked for but not installed; the message says how to install it."""


def ray_module():
    """`ray`, or a RayMissing error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayMissing("this needs Ray: pip install -e '.[ray]' (bash setup.sh installs it)") from None
    return ray

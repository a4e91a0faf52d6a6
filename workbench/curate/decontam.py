"""Decontamination: word n-gram overlap between training records and eval suite items.

Every `evalsuites/<suite>/**/*.jsonl` file is read directly (no dependency on the eval code):
the string fields of each row (prompt, question, answer, reference, targets...) are the
suite's text; the suite is named after its folder. Extra JSONL/JSON/text files can be
added by path. An eval text shorter than `ngram` words but at least `min_words` long is
indexed whole, so short questions are still caught. A record that shares any indexed
n-gram with a suite is dropped (or flagged) with the suite and the matching n-gram.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from workbench.curate import minhash
from workbench.curate.steps import CurationError, Params, Step, StepResult, Verdict, register
from workbench.curate.text import normalize_words, stable_hash64
from workbench.data.records import Record

# keys whose strings are labels or ids, not text a model could memorize
SKIP_KEYS = frozenset(["id", "idx", "key", "uid", "label", "labels", "source", "split", "type", "category",
                       "subject", "task", "instruction_id_list", "kwargs", "metadata", "level", "difficulty"])


class DecontamError(CurationError):
    """An eval suite file that cannot be read; the message names the file and line."""


def _strings(value: Any, key: str | None = None) -> list[str]:
    if key in SKIP_KEYS:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, str(k).lower())]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def read_items(path: Path) -> list[list[str]]:
    """Items of one file, each as its text fields: JSONL rows, a JSON list, or plain text lines.

    Fields stay separate so an n-gram never spans a question and its answer."""
    items: list[list[str]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DecontamError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
                items.append(_strings(row))
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DecontamError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        items.extend(_strings(row) for row in (data if isinstance(data, list) else [data]))
    else:
        items.extend([line] for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return items


def find_suites(suites_dir: str | Path) -> dict[str, list[Path]]:
    """{suite name: its JSONL files} for every folder under `suites_dir`."""
    root = Path(suites_dir)
    if not root.is_dir():
        return {}
    suites = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        files = sorted(folder.rglob("*.jsonl"))
        if files:
            suites[folder.name] = files
    return suites


class NgramIndex:
    """Hashes of eval n-grams (and of whole short items) -> the suites they come from."""

    def __init__(self, n: int, min_words: int):
        self.n, self.min_words = n, min_words
        self.grams: dict[int, set[str]] = {}
        self.lengths: set[int] = set()  # n plus the lengths of short items indexed whole
        self.items: dict[str, int] = {}

    def add(self, suite: str, fields: list[str]) -> None:
        self.items[suite] = self.items.get(suite, 0) + 1
        for text in fields:
            self._add_text(suite, text)

    def _add_text(self, suite: str, text: str) -> None:
        ws = normalize_words(text)
        if len(ws) >= self.n:
            spans = [ws[i : i + self.n] for i in range(len(ws) - self.n + 1)]
            self.lengths.add(self.n)
        elif len(ws) >= self.min_words:
            spans = [ws]
            self.lengths.add(len(ws))
        else:
            return
        for span in spans:
            self.grams.setdefault(stable_hash64(" ".join(span)), set()).add(suite)

    def matches(self, text: str) -> dict[str, str]:
        """{suite: first matching n-gram} for one training text."""
        ws = normalize_words(text)
        hits: dict[str, str] = {}
        for m in sorted(self.lengths, reverse=True):
            for i in range(len(ws) - m + 1):
                gram = " ".join(ws[i : i + m])
                for suite in self.grams.get(stable_hash64(gram), ()):
                    hits.setdefault(suite, gram)
        return hits


def repo_evalsuites() -> Path:
    return Path(__file__).resolve().parents[2] / "evalsuites"


class DecontamParams(Params):
    ngram: int = Field(13, gt=0, description="words per n-gram (13 as in GPT-3 / lm-eval decontamination)")
    min_words: int = Field(8, gt=0, description="eval items shorter than `ngram` but this long are matched whole")
    suites_dir: str = Field("evalsuites", description="folder of eval suites (relative: to the working dir, else the repo)")
    suites: list[str] | None = Field(None, description="only these suites (default: all found)")
    extra_files: list[str] = Field(default_factory=list, description="more eval texts: JSONL, JSON or plain text")
    field: Literal["conversation", "prompt", "assistant"] = "conversation"
    action: Literal["drop", "flag"] = "drop"


@register
class Decontaminate(Step):
    """Drops (or flags) records sharing an n-gram with any eval suite item; reports hits per suite."""

    name = "decontaminate"
    Params = DecontamParams

    def build_index(self) -> NgramIndex:
        p = self.params
        root = Path(p.suites_dir)
        if not root.is_absolute() and not root.is_dir() and p.suites_dir == "evalsuites":
            root = repo_evalsuites()
        suites = find_suites(root)
        if p.suites is not None:
            missing = sorted(set(p.suites) - set(suites))
            if missing:
                raise DecontamError(f"decontaminate: suites not found in {root}: {', '.join(missing)}; "
                                    f"found: {', '.join(suites) or 'none'}")
            suites = {k: v for k, v in suites.items() if k in p.suites}
        index = NgramIndex(p.ngram, p.min_words)
        for suite, files in suites.items():
            for f in files:
                for item in read_items(f):
                    index.add(suite, item)
        for extra in p.extra_files:
            path = Path(extra)
            if not path.exists():
                raise DecontamError(f"decontaminate: extra file not found: {extra}")
            for item in read_items(path):
                index.add(path.stem, item)
        if not index.items:
            raise DecontamError(f"decontaminate: no eval suites (*.jsonl under {root}/<suite>/) and no extra_files")
        return index

    def apply(self, records: list[Record]) -> StepResult:
        index = self.build_index()
        texts = minhash.as_texts(records, self.params.field)
        result = StepResult()
        per_suite = {s: {"items": n, "records_hit": 0, "examples": []} for s, n in index.items.items()}
        for rec, text in zip(records, texts):
            hits = index.matches(text)
            if not hits:
                continue
            for suite, gram in hits.items():
                per_suite[suite]["records_hit"] += 1
                if len(per_suite[suite]["examples"]) < 20:
                    per_suite[suite]["examples"].append({"record_id": rec.id, "ngram": gram})
            suite = sorted(hits)[0]
            detail = "; ".join(f"{s}: \"{g}\"" for s, g in sorted(hits.items()))
            verdict = Verdict(f"eval_overlap:{suite}", detail)
            (result.drops if self.params.action == "drop" else result.flags)[rec.id] = verdict
        result.report["suites"] = per_suite
        return result

"""A dataset card beside an exported version: the Hugging Face `README.md` (YAML front matter
that `datasets.load_dataset(folder)` reads) with where the data came from and what it did.

Sections: composition (rows and tokens by source and reasoning mode), lineage (every version
from the sources down, with the operation), removals by step and reason over that lineage, and
the verdict of every ablation that trained on this version.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from workbench.core.errors import WorkbenchError
from workbench.core.workspace import Workspace

MARK = "<!-- written by workbench data export; rewritten on the next export -->"


class CardError(WorkbenchError):
    """A card that cannot be written (e.g. a README.md of someone else's in the way)."""


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def front_matter(version: dict, data_file: str) -> dict:
    return {
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": data_file}]}],
        "task_categories": ["text-generation"],
        "language": ["en"],
        "tags": ["sft", "chat", "workbench"],
        "size_categories": [_size_category(version["n_rows"])],
        "pretty_name": version["name"],
    }


def _table(columns: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in r) + " |" for r in rows]
    return out + [""]


def ablations_using(ws: Workspace, version_id: str) -> list[tuple[str, str]]:
    """(ablation, variant) pairs whose build produced this version."""
    cat = ws.catalog(reader=True)
    found = []
    for a in cat.list_ablations():
        for t in cat.ablation_tasks(a["name"]):
            if t["kind"] == "build" and t["status"] == "done" and (t["output"] or {}).get("version") == version_id:
                found.append((a["name"], t["variant"]))
    return found


def render_card(ws: Workspace, version_ref: str, data_file: str, verdicts: list[str] | None = None) -> str:
    """The card's Markdown; `verdicts`: one line per ablation that trained on the version (the
    report's `version_verdicts`, given by the caller: the report sits above the data)."""
    cat = ws.catalog(reader=True)
    v = cat.resolve_version(version_ref)
    stats = v.get("stats") or {}
    parts = ["---", yaml.safe_dump(front_matter(v, data_file), sort_keys=False).rstrip(), "---", MARK, "",
             f"# {v['name']}", "",
             f"Dataset version `{v['id']}` ({v['n_rows']} records, made by `{v['operation']}` on {v['created']:%Y-%m-%d}), "
             "in messages format: `id`, `messages` (role/content turns), `source`, `reasoning_mode`, `meta`. "
             f"Load it with `datasets.load_dataset(\"path/to/this/folder\")`.", "", "## Composition", ""]
    for key, title in (("by_source", "source"), ("by_mode", "reasoning mode")):
        groups = stats.get(key) or {}
        if groups:
            parts += _table([title, "records", "tokens", "mean tokens"],
                            [[g, s.get("rows"), s.get("tokens"), s.get("mean_tokens")] for g, s in sorted(groups.items())])
    if stats.get("tokenizer"):
        parts += [f"Tokens counted with the `{stats['tokenizer']}` tokenizer.", ""]
    edges = cat.lineage(v["id"])
    parts += ["## Lineage", ""]
    if edges:
        names = {r["id"]: r["name"] for r in cat.list_versions()}
        parts += _table(["parent", "child", "operation"],
                        [[f"{names.get(e['parent'], '')} `{e['parent']}`" if e["parent"] else "(source)",
                          f"{names.get(e['child'], '')} `{e['child']}`", e["operation"]] for e in edges])
    else:
        parts += ["Ingested directly; no parent versions.", ""]
    chain = sorted({e["child"] for e in edges} | {v["id"]})
    removed = [[ver, r["step"], r["reason"], r["n"]] for ver in chain for r in cat.removal_summary(ver)]
    parts += ["## Removals by reason", ""]
    parts += _table(["version", "step", "reason", "records"], removed) if removed else ["None on this version's path.", ""]
    parts += ["## Verdicts of ablations that used it", "", *(verdicts or ["- no ablation has trained on this version yet"]), ""]
    return "\n".join(parts)


def card_target(data_path: str | Path) -> Path:
    """README.md beside the data; refuses a README.md that workbench did not write."""
    card = Path(data_path).parent / "README.md"
    if card.exists() and MARK not in card.read_text(encoding="utf-8", errors="replace"):
        raise CardError(f"{card} exists and was not written by workbench; export into another folder or pass --no-card")
    return card


def write_card(ws: Workspace, version_ref: str, data_path: str | Path, verdicts: list[str] | None = None) -> Path:
    """README.md beside `data_path` (which names the data file in its front matter)."""
    card = card_target(data_path)
    card.write_text(render_card(ws, version_ref, Path(data_path).name, verdicts), encoding="utf-8")
    return card

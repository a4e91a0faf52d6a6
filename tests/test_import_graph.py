"""The package's imports form no cycle and never run back up the data flow (read with `ast`,
nothing imported).

The cycle check counts module-level imports; the layer check counts every import of a workbench
module, module-level and inside functions. Imports inside functions stay only for the libraries
measured to be slow to import (torch, transformers, trl, peft, ray, lm-eval), behind one small
function each, and where a test counts them below."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "workbench"


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _targets(mod: str, path: Path, node: ast.stmt, mods: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
            pkg = pkg[:len(pkg) - node.level + 1]
            base = ".".join([*pkg, base] if base else pkg)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    out = []
    for t in names:
        while t and t not in mods:
            t = t.rpartition(".")[0]
        if t and t != mod:
            out.append(t)
    return out


def module_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[m].update(_targets(m, p, node, mods))
            elif isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks are not imports at run time
                continue
    return graph


def all_imports() -> list[tuple[str, str, int, bool]]:
    """(importer, imported, line, at module level) for every import of a workbench module,
    inside functions too (`if TYPE_CHECKING:` blocks left out: they never run)."""
    mods = _modules()
    out = []
    for m, p in mods.items():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                for n in ast.walk(node)}
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                out.extend((m, t, node.lineno, id(node) in top) for t in dict.fromkeys(_targets(m, p, node, mods)))
    return out


# The layers of the package, lowest first: a module imports only from its own layer or a lower
# one. workbench/core is the foundation (each line below the next: errors, the small shared
# pieces, the catalog, the workspace, the device, the models, the hashes of content and models);
# then the data flow (evals sits below train: GRPO's rewards are the suites' own scorers);
# then the operations over all of it (gc, repair, backup, doctor) and the commands.
LAYERS: list[tuple[str, ...]] = [
    ("workbench.core.errors",),
    ("workbench.core.names", "workbench.core.config", "workbench.core.registry", "workbench.core.reasoning", "workbench.core.processes",
     "workbench.core.diskfull", "workbench.core.progress", "workbench.core.memory"),
    ("workbench.core.intents", "workbench.core.catalog"),
    ("workbench.core.workspace",),
    ("workbench.core.device",),
    ("workbench.core.models",),
    ("workbench.core.hashing",),
    ("workbench.data",),
    ("workbench.curate",),
    ("workbench.synth",),
    ("workbench.evals",),
    ("workbench.train",),
    ("workbench.ablate",),
    ("workbench.report",),
    ("workbench.ops.maintenance", "workbench.ops.backup", "workbench.ops.doctor", "workbench.ops.repair"),
    ("workbench.cli", "workbench.__main__"),
]


# The foundation's and the operations' package modules (their __init__, which imports nothing of
# the package) sit with their lowest member; layer() matches them exactly, not as prefixes.
PACKAGES = {"workbench.core": "workbench.core.errors", "workbench.ops": "workbench.ops.maintenance"}


def layer(module: str) -> int:
    module = PACKAGES.get(module, module)
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def upward(imports: list[tuple[str, str, int, bool]]) -> list[str]:
    return [f"{a}:{line} imports {b} ({LAYERS[layer(b)][0]} is above {LAYERS[layer(a)][0]})"
            for a, b, line, _ in imports if b != "workbench" and layer(b) > layer(a)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_level_import_cycle():
    graph = module_graph()
    assert len(graph) > 100 and "workbench.evals.engine" in graph
    assert cycles(graph) == []


def test_the_checker_sees_an_upward_import():
    assert upward([("workbench.data.card", "workbench.report.render", 3, False)]) == [
        "workbench.data.card:3 imports workbench.report.render (workbench.report is above workbench.data)"]
    assert upward([("workbench.report.render", "workbench.data.card", 3, True)]) == []


def test_no_import_runs_back_up_the_data_flow():
    imports = all_imports()
    assert any(not top for *_, top in imports)  # imports inside functions are read too
    for m in _modules():
        if m != "workbench":
            layer(m)
    assert upward(imports) == []


def test_no_import_cycle_even_inside_functions():
    """Imports inside functions (the lazy ones included) close no cycle either: a lazy import is
    for a slow library, never a way around a knot."""
    graph: dict[str, set[str]] = {m: set() for m in _modules()}
    for a, b, _, _ in all_imports():
        if b != "workbench" and b != a:
            graph[a].add(b)
    assert cycles(graph) == []

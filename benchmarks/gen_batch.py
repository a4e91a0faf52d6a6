"""Generation batch size against wall time: the runner's model for a base model spec or a run id,
loaded once, each suite's smoke layer generated at each batch size (workbench.evals.decode decides
the batch itself from the budget; here it is set by hand), with the responses compared item by item
with the first batch size's.

    WORKBENCH_HOME=H python benchmarks/gen_batch.py [SPEC,SPEC] [16,32] [think_follow,semsim]

SPEC defaults to the bundled base and the workspace's first run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("WORKBENCH_PROGRESS", "0")


def main() -> None:
    from workbench.core.workspace import Workspace
    from workbench.evals.runner import _load_lm, _prepare_offline, _run_suite, resolve_target
    from workbench.evals.suites import select

    ws = Workspace.default()
    _prepare_offline()
    runs = [r["id"] for r in ws.catalog(reader=True).list_runs()]
    specs = sys.argv[1].split(",") if len(sys.argv) > 1 else ["smollm2-135m-instruct", *runs[:1]]
    sizes = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "16,32").split(",")]
    suites = sys.argv[3].split(",") if len(sys.argv) > 3 else ["think_follow", "semsim"]
    for spec in specs:
        lm = _load_lm(resolve_target(ws, spec), sizes[0], "hf", True)
        first: dict[str, list[str]] = {}
        for size in sizes:
            # the decoder's own choice (workbench.evals.batching) would override the size: pin it
            lm.generate_until = (lambda requests, disable_tqdm=False, lm=lm: type(lm).__mro__[1].generate_until(lm, requests, disable_tqdm))
            lm.batch_size_per_gpu = size
            for suite in select(suites, "smoke"):
                t0 = time.perf_counter()
                run = _run_suite(lm, suite, "smoke", None, None)
                wall = time.perf_counter() - t0
                responses = [s["response"] for s in run.samples]
                tokens = sum(len(lm.tokenizer(r, add_special_tokens=False)["input_ids"]) for r in responses)
                same = ""
                if suite.name in first:
                    same = f", same as batch {sizes[0]}: {sum(a == b for a, b in zip(responses, first[suite.name]))}/{len(responses)}"
                first.setdefault(suite.name, responses)
                print(f"{spec[:22]:22s} batch {size:3d} {suite.name:13s} {wall:6.1f} s "
                      f"(reference pass {run.likelihood_s or 0:.1f} s), {tokens} tokens{same}", flush=True)


if __name__ == "__main__":
    main()

"""lm-eval hooks for the ifeval_style suite; the scoring itself lives in workbench.evals.scoring."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL next to this file (metadata data_file), filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # lm-eval's own IFEval process_results: prompt-level bools, instruction-level lists
    return scoring.ifeval_raw(doc, results[0])


def agg_inst_level_acc(items):
    # micro-average over all instructions, as official IFEval
    flat = [x for sub in items for x in sub]
    return sum(flat) / len(flat) if flat else 0.0

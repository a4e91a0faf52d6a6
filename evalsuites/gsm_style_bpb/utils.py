"""lm-eval hooks for gsm_style_bpb: gsm_style's data, scored by the reference's likelihood only."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL named in metadata data_file (gsm_style's), filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # bits per byte of the worked solution (the runner recomputes it on the exact scored text)
    return scoring.likelihood_scores(doc, results, "answer")

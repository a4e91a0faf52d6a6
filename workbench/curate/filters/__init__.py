"""Quality filters: one module per check, each with documented default thresholds.

Every filter returns a `Verdict(reason, detail)` for a record it drops; the reason names the
rule (e.g. `dup_line_frac`) and the detail carries the measured value against the threshold,
so the removals table explains itself. Thresholds start from the usual values (Gopher, Rae et
al. 2021, as datatrove implements GopherRepetitionFilter and GopherQualityFilter), measured on
chat data as each module says; examples/recipes/default.yaml fits them to chat rows, each change
measured on datasets/curation_eval.jsonl and datasets/curation_domains.jsonl
(`python benchmarks/curation.py --domains`).

    structure.py         structure, length
    reasoning_format.py  reasoning_format (SmolLM3 think / no_think conventions)
    repetition.py        gopher_repetition
    quality.py           gopher_quality
    boilerplate.py       boilerplate
    language.py          language (optional; langdetect)

Adding a filter: a module here with a subclass of `Filter` that has a `name`, a `Params` model
(pydantic, with defaults and bounds) and `check(record) -> Verdict | None`, decorated with
`@register`, and imported below (importing `workbench.curate` registers every built-in step).
A filter with thresholds also lists them (`rules() -> [Rule]`) and each record's value of each
(`rule_values(record)`), which `workbench curate calibrate` fits on known-clean rows
(curate/calibrate.py; tests/test_curate_calibrate.py checks that the values are what `check` compares).
"""

from workbench.curate.filters.boilerplate import BoilerplateFilter, BoilerplateParams
from workbench.curate.filters.language import LanguageFilter, LanguageParams
from workbench.curate.filters.quality import STOP_WORDS, QualityFilter, QualityParams, quality_stats
from workbench.curate.filters.reasoning_format import THINK_CLOSE, THINK_OPEN, ReasoningFormatFilter, ReasoningParams
from workbench.curate.filters.repetition import RepetitionFilter, RepetitionParams, repetition_stats
from workbench.curate.filters.structure import LengthFilter, LengthParams, StructureFilter, StructureParams

__all__ = ["STOP_WORDS", "THINK_CLOSE", "THINK_OPEN", "BoilerplateFilter", "BoilerplateParams", "LanguageFilter",
           "LanguageParams", "LengthFilter", "LengthParams", "QualityFilter", "QualityParams", "ReasoningFormatFilter",
           "ReasoningParams", "RepetitionFilter", "RepetitionParams", "StructureFilter", "StructureParams",
           "quality_stats", "repetition_stats"]

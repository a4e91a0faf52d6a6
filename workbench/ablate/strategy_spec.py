"""The strategy part of an ablation spec: what a curator asks, before it becomes variants.

```yaml
strategies:
  - per_step: {source: data.jsonl, recipe: recipes/default.yaml}     # each step alone, left out, all
  - leave_one_out: {source: data.jsonl, sources: [math, reasoning]}  # drop each record source in turn
  - leave_one_out: {mix: blend}                                      # a mixture without each source,
  - leave_one_out: {source: data.jsonl, mix: {weights: {math: 1, chat: 2}}}  # same token budget
  - sweep: {source: data.jsonl, step: minhash_dedup, param: threshold, values: [0.6, 0.8]}
  - sweep: {source: data.jsonl, score: quality, remove_lowest: [0.1, 0.2]}
  - inject: {source: clean.jsonl, defect: duplicate, rates: [0.1, 0.2], catch: exact_dedup}
  - shapley: {source: data.jsonl, recipe: recipes/default.yaml}     # every subset of <= 5 steps: credit
  - mixture_search: {source: data.jsonl, sources: [math, chat], budget: 20000, k: 8}  # sampled mixtures
max_variants: 40
```

Every strategy takes `source` (a file or a version ref), an optional prefix `recipe` applied
first (per_step: the recipe it takes apart; its unmeasured steps go in `prefix`), `match: rows |
tokens` for its size-matched random controls, `controls: false` to leave them out, `control_seeds`
(default: the ablation's seeds, at least two), `draw_check: true` for one more control per removal
(another random draw, trained with the first control seed: the draw A/A) and `name` (the prefix of
its variants' names). workbench.ablate.strategies turns
them into ordinary variants, each tagged with a `StrategyTag`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.core.names import NAME_RE

STRATEGIES = ("per_step", "leave_one_out", "sweep", "inject", "shapley", "mixture_search")
ROLES = ("source", "alone", "left_out", "full", "value", "defect", "caught", "control", "draw_check", "subset",
         "mixture", "proposal")
DEFECTS = ("duplicate", "truncate", "unclosed_think", "swapped_response", "empty_response")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _distinct(v: list[int]) -> list[int]:
    if len(set(v)) != len(v):
        raise ValueError("seeds repeat")
    return v


Seeds = Annotated[list[int], AfterValidator(_distinct)]


def _shares(v: list[float]) -> list[float]:
    if len(set(v)) != len(v):
        raise ValueError("values repeat")
    if any(not 0 < x < 1 for x in v):
        raise ValueError("each value is a share between 0 and 1 (exclusive)")
    return v


Shares = Annotated[list[float], Field(min_length=1), AfterValidator(_shares)]


class _Common(_Strict):
    source: str
    recipe: str | dict | None = None
    name: str | None = None
    match: Literal["rows", "tokens"] = "rows"
    controls: bool = True
    control_seeds: Seeds | None = Field(None, min_length=2)
    # one more random control per removal: another draw, trained with the first control seed like that
    # seed's control, so the two differ only by which rows went (the draw A/A, reported per removal)
    draw_check: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if v is not None and not NAME_RE.match(v):
            raise ValueError("use letters, digits, '_', '-', '.' (at most 64 characters)")
        return v


class PerStep(_Common):
    recipe: str | dict  # the recipe whose steps are measured
    # steps applied first in every variant and control, not measured (e.g. a `select` to a smaller source)
    prefix: str | dict | None = None


class LooMix(_Strict):
    """An inline mixture of record sources: what `mix_sources` (workbench.curate.mix_sources) builds."""

    weights: dict[str, float] = Field(description="record source -> relative share of the budget")
    balance: Literal["tokens", "examples"] = "tokens"
    budget: int | None = Field(None, ge=1, description="tokens (or records); default: the largest every mixture fills")
    seed: int = 0

    @field_validator("weights")
    @classmethod
    def _weights(cls, v):
        if any(w < 0 for w in v.values()) or sum(w > 0 for w in v.values()) < 2:
            raise ValueError("give at least two sources with a weight above zero (none negative)")
        return v


class LeaveOneOut(_Common):
    """`sources`: drop each record source in turn from `source` (fewer rows, with random controls).
    `mix`: a mixture (a variant whose recipe ends with `mix_sources`, or an inline {weights: ...})
    without each of its sources, re-balanced to the whole mixture's budget (no controls needed)."""

    source: str | None = None  # not with `mix: VARIANT` (the variant's sources)
    sources: list[str] | None = Field(None, min_length=2, description="the record `source` names to leave out")
    mix: str | LooMix | None = None

    @field_validator("mix", mode="before")
    @classmethod
    def _mix(cls, v):
        if isinstance(v, dict):  # one message under `mix`, not one per branch of the union
            try:
                return LooMix.model_validate(v)
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                raise ValueError(f"{where + ': ' if where else ''}{err['msg'].removeprefix('Value error, ')}") from None
        return v

    @model_validator(mode="after")
    def _one_form(self):
        if (self.sources is None) == (self.mix is None):
            raise ValueError("give either `sources` (record sources to drop) or `mix` (a mixture to re-balance)")
        if isinstance(self.mix, str):
            if self.source is not None or self.recipe is not None:
                raise ValueError("`mix: VARIANT` takes that variant's sources and recipe; drop `source` and `recipe`")
        elif self.source is None:
            raise ValueError("`source` is required (the data to leave sources out of)")
        return self


class Sweep(_Common):
    step: str | None = None
    param: str | None = None
    values: list[Any] | None = Field(None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)  # the swept step's other parameters
    score: str | None = None
    remove_lowest: Shares | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        by_param = self.step is not None or self.param is not None or self.values is not None
        by_score = self.score is not None or self.remove_lowest is not None
        if by_param == by_score:
            raise ValueError("give either step, param and values, or score and remove_lowest")
        if by_param and (self.step is None or self.param is None or self.values is None):
            raise ValueError("a parameter sweep needs step, param and values")
        if by_score and (self.score is None or self.remove_lowest is None):
            raise ValueError("a score sweep needs score and remove_lowest")
        if self.values is not None and len({repr(v) for v in self.values}) != len(self.values):
            raise ValueError("values repeat")
        return self


class Inject(_Common):
    defect: Literal[DEFECTS]  # type: ignore[valid-type]
    rates: Shares
    seed: int = 0
    catch: str | dict | None = None  # a curation step that removes the defect: `exact_dedup` or {step, params}


class Shapley(_Common):
    """Every subset of the recipe's steps (2^n, n <= 5), each applied in recipe order to `source`, trained
    on the ablation's seeds: exact Shapley values of each step (workbench.ablate.credit)."""

    recipe: str | dict  # the recipe whose steps share the credit
    controls: bool = False  # subsets are compared with each other: no random controls

    @field_validator("controls")
    @classmethod
    def _no_controls(cls, v):
        if v:
            raise ValueError("shapley compares subsets of steps with each other; it has no random controls")
        return v


Bound = float | dict[str, float]


class MixtureSearch(_Strict):
    """K mixtures of record sources at one token budget (the natural mixture, each source's corner where the
    constraints allow, the rest a space-filling sample of the constrained simplex), built by `mix_sources`;
    the report fits scores against weights and proposes a mixture (workbench.ablate.mixsearch). `validate`:
    weights to train as the proposal (a second round), compared with the natural and the best sampled."""

    source: str | list[str]  # one file (or version ref) with record sources, or several files (one source each)
    sources: list[str] | None = Field(None, min_length=2, description="record sources to mix (default: all found)")
    recipe: str | dict | None = None  # applied to the data before mixing
    name: str | None = None
    budget: int = Field(..., ge=1, description="tokens per mixture")
    k: int = Field(8, ge=2, le=64, description="mixtures in all: the natural one, the corners, the sampled rest")
    min_weight: Bound = 0.0
    max_weight: Bound = 1.0
    repeat_cap: float = Field(1.0, description="times a record may repeat to fill its share (mix_sources: 1)")
    design: Literal["maximin", "dirichlet"] = "maximin"
    alpha: float = Field(1.0, gt=0, description="Dirichlet concentration of the sampled mixtures")
    seed: int = 0
    corners: bool = True
    validate_: dict[str, float] | None = Field(None, alias="validate")
    tokenizer: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if v is not None and not NAME_RE.match(v):
            raise ValueError("use letters, digits, '_', '-', '.' (at most 64 characters)")
        return v

    @field_validator("repeat_cap")
    @classmethod
    def _cap(cls, v):
        if v != 1:
            raise ValueError("mix_sources keeps or drops records and never repeats one, so the cap is 1 (a source's "
                             "share may not exceed its tokens); a larger cap needs a mixing step that repeats")
        return v

    @field_validator("validate_")
    @classmethod
    def _validate(cls, v):
        if v is not None and (any(w < 0 for w in v.values()) or sum(v.values()) <= 0):
            raise ValueError("validate: weights must not be negative and must sum to more than zero")
        return v


class StrategySpec(_Strict):
    per_step: PerStep | None = None
    leave_one_out: LeaveOneOut | None = None
    sweep: Sweep | None = None
    inject: Inject | None = None
    shapley: Shapley | None = None
    mixture_search: MixtureSearch | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in STRATEGIES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(STRATEGIES)} per entry")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STRATEGIES if getattr(self, k) is not None)

    @property
    def body(self) -> _Common:
        return getattr(self, self.kind)


class StrategyTag(_Strict):
    """What a generated variant is: which strategy made it and which role it plays there."""

    strategy: Literal[STRATEGIES]  # type: ignore[valid-type]
    group: str  # the strategy's name: the prefix of its variants
    role: Literal[ROLES]  # type: ignore[valid-type]
    step: str | None = None
    param: str | None = None
    value: float | int | str | bool | None = None
    source: str | None = None  # leave_one_out: the record source left out
    compare_to: str | None = None  # the variant this one is compared with ("variant vs source")
    controls: list[str] = Field(default_factory=list)  # its size-matched random controls
    control_of: str | None = None  # a control: the removal variant it matches
    seed: int | None = None  # a control: its draw (and training) seed; a draw check: its training seed
    removes: list[dict] = Field(default_factory=list)  # the steps whose removal the controls match
    match: Literal["rows", "tokens"] = "rows"
    also: list[str] = Field(default_factory=list)  # other roles of the same data ("left_out:length")
    # the same roles, whole: {group, role, step, param, value, source, compare_to}, each reported as a row
    also_as: list[dict] = Field(default_factory=list)
    mix: dict | None = None  # leave_one_out mix: the mix_sources parameters (weights, leave_out, budget)
    subset: list[str] | None = None  # shapley: the steps this subset applies (in recipe order)
    players: list[str] | None = None  # shapley: every step of the recipe; mixture_search: the sources
    search: dict | None = None  # mixture_search: the constraints {lower, upper, budget, available, natural}

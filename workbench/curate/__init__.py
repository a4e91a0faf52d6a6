"""Curation: a declarative recipe of filters, dedup and decontamination steps that turns one
dataset version into a cleaner one, with a reason row for every record it removes.

Entry points: `workbench.curate.recipe.load_recipe` and `workbench.curate.recipe.curate`.
Importing this package registers every built-in step in `workbench.curate.steps.STEPS` (a
second step under a taken name raises `RegistryError`); a new filter is one module with a
`@register` class, imported here.
"""

from workbench.curate import ablation_steps, decontam, dedup, filters, mix_sources, pairs, pii, select  # noqa: F401 - importing registers their steps

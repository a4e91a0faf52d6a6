"""Curation: a declarative recipe of filters, dedup and decontamination steps that turns one
dataset version into a cleaner one, with a reason row for every record it removes.

Entry points: `workbench.curate.recipe.load_recipe` and `workbench.curate.recipe.curate`.
"""

from workbench.curate import pii  # noqa: E402,F401  (registers the pii step)

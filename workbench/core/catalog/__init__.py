"""The catalog: the only place that talks SQL. One DuckDB file per workspace.

Each area keeps its queries in its own mixin module; `Catalog` combines them.
"""

from workbench.core.catalog.ablations import AblationsMixin
from workbench.core.catalog.base import CatalogBase, CatalogError, from_json, now, to_json
from workbench.core.catalog.curation import CurationMixin
from workbench.core.catalog.evals import EvalsMixin
from workbench.core.catalog.leases import LeasesMixin
from workbench.core.catalog.runs import RunsMixin
from workbench.core.catalog.synth import SynthMixin
from workbench.core.catalog.versions import VersionsMixin


class Catalog(CatalogBase, VersionsMixin, CurationMixin, RunsMixin, EvalsMixin, SynthMixin, AblationsMixin,
              LeasesMixin):
    pass


__all__ = ["Catalog", "CatalogError", "from_json", "now", "to_json"]

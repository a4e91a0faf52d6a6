"""The catalog: the only place that talks SQL. One DuckDB file per workspace.

Each area keeps its queries in its own mixin module; `Catalog` combines them.
"""

from workbench.catalog.ablations import AblationsMixin
from workbench.catalog.base import CatalogBase, CatalogError, from_json, now, to_json
from workbench.catalog.curation import CurationMixin
from workbench.catalog.evals import EvalsMixin
from workbench.catalog.leases import LeasesMixin
from workbench.catalog.runs import RunsMixin
from workbench.catalog.synth import SynthMixin
from workbench.catalog.versions import VersionsMixin


class Catalog(CatalogBase, VersionsMixin, CurationMixin, RunsMixin, EvalsMixin, SynthMixin, AblationsMixin,
              LeasesMixin):
    pass


__all__ = ["Catalog", "CatalogError", "from_json", "now", "to_json"]

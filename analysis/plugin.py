"""The analysis plugin (融合研判、风险预警): hot spots, summaries, early-warning alerts and
the periodic report packs over this deployment's own tickets. Needs tickets."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from analysis import resources, schema
from analysis.config import AnalysisConfig
from analysis.keys import ANALYSIS
from analysis.service import AnalysisService
from hotline_link.core.settings import Settings
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from tickets.catalog import load_default_cues
from tickets.keys import TICKETS


def reports_path(settings: Settings, config: AnalysisConfig) -> Path:
    """Where the report packs are written: ``reports_dir``, else state_dir/reports/analysis."""
    return Path(config.reports_dir) if config.reports_dir else settings.state_dir / "reports" / "analysis"


class AnalysisPlugin(Plugin):
    name = "analysis"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = AnalysisConfig
    requires = ("tickets",)

    def load(self, deps: Deps) -> None:
        settings = deps.settings
        config = settings.section(AnalysisConfig)
        lexicon = load_default_cues()
        self.service = deps.services.provide(ANALYSIS, AnalysisService(
            deps.redis, deps.bus, deps.services.get(TICKETS), config=config, platforms=sorted(settings.platform_ids),
            reports_dir=reports_path(settings, config), cues=tuple(lexicon.terms("danger")),
            consult=tuple(lexicon.terms("consult"))))

    async def start(self) -> None:
        self.service.start()

    async def stop(self) -> None:
        await self.service.stop()

"""Trimaran's LoadVariationRiskBalancing score plugin, registered under its upstream name (`scoring.plugins.trimaran`
holds it beside TargetLoadPacking, with which it shares the resource statistics)."""

from scoring.plugins.trimaran import LVRB, LoadVariationRiskBalancing

NAME = LVRB


def new(_: dict) -> LoadVariationRiskBalancing:
    return LoadVariationRiskBalancing()

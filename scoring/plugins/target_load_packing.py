"""Trimaran's TargetLoadPacking score plugin, registered under its upstream name (`scoring.plugins.trimaran`
holds it beside LoadVariationRiskBalancing, with which it shares the resource statistics)."""

from scoring.plugins.trimaran import TLP, TargetLoadPacking

NAME = TLP


def new(_: dict) -> TargetLoadPacking:
    return TargetLoadPacking()

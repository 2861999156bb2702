"""Panels that apps above stock add to stock's pages, without stock importing them.

An app registers, in its `AppConfig.ready()`, a function that returns a `Panel` (a template
and its context) or None; stock's pages render whatever is registered, in registration
order. A panel's template reads its context as `panel` and renders one element with a
stable id, with `hx-swap-oob="true"` when `oob` is set, so the page's socket can push it
again after a stock change as it pushes stock's own sections.

- variant panels: figures inside the variant page's live region, pushed on its stock changes;
- variant actions: forms beside them (rendered with the request, never pushed);
- overview tiles: figures on the overview, pushed with its activity feed.

A change that moves no stock but changes what a panel shows is announced by the app with
`PANELS_CHANGED` sent to the page's group (a variant's, or `OVERVIEW_GROUP` for the overview's
tiles); the page re-renders its panels.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Panel:
    template: str
    context: Mapping[str, object] = field(default_factory=dict)


VariantPanel = Callable[[int], Panel | None]  # (variant id)
VariantAction = Callable[[int, HttpRequest], Panel | None]  # (variant id, request)
OverviewTile = Callable[[int | None], Panel | None]  # (warehouse id, None: every one)

# The message type, for `channel_layer.group_send(group, {"type": PANELS_CHANGED})`.
PANELS_CHANGED = "panels.changed"
# Every open overview listens here: an app whose tile changed with no stock moving (an
# alert fired) sends PANELS_CHANGED to it, and the overviews re-render their tiles.
OVERVIEW_GROUP = "overview-tiles"

_variant_panels: list[VariantPanel] = []
_variant_actions: list[VariantAction] = []
_overview_tiles: list[OverviewTile] = []


def register_variant_panel(panel: VariantPanel) -> VariantPanel:
    if panel not in _variant_panels:
        _variant_panels.append(panel)
    return panel


def register_variant_action(action: VariantAction) -> VariantAction:
    if action not in _variant_actions:
        _variant_actions.append(action)
    return action


def register_overview_tile(tile: OverviewTile) -> OverviewTile:
    if tile not in _overview_tiles:
        _overview_tiles.append(tile)
    return tile


def variant_panels(variant_id: int) -> list[Panel]:
    return [panel for read in _variant_panels if (panel := read(variant_id)) is not None]


def variant_actions(variant_id: int, request: HttpRequest) -> list[Panel]:
    return [panel for read in _variant_actions if (panel := read(variant_id, request)) is not None]


def overview_tiles(warehouse_id: int | None) -> list[Panel]:
    return [panel for read in _overview_tiles if (panel := read(warehouse_id)) is not None]

"""Ground truth of the demo network, read from the same bank the server renders.

    from crawlers.demo import expected
    expected.items(now)                 # every Item, dated relative to `now`
    expected.item_ids("baovinhlong")    # ids per outlet ("<outlet>/<bank id>")
    expected.syndicated()               # story → ids of its near-identical press copies
    expected.RUMOUR, expected.DENIAL    # story ids; rumour_items(), denial_items()
    expected.SOVEREIGNTY_MAP            # the map story; sovereignty_map_items()
    expected.irrelevant_items()         # other provinces, lists, football, biographies …
    expected.faults()                   # Fault(kind, source, path, error, …) per fault page

Item ids, stories and paths do not depend on `now`; dates do. An item that the network is told to
hide (`DemoNetwork(hide=[DENIAL])`) is still listed here: ground truth is the whole bank.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from .model import (
    ICT,
    OUTLETS,
    OVERSIZE_BYTES,
    SLOW_SECONDS,
    WINDOW_HOURS,
    Fault,
    Item,
    Outlet,
    build,
    load_bank,
)

__all__ = [
    "ICT",
    "OUTLETS",
    "OVERSIZE_BYTES",
    "SLOW_SECONDS",
    "WINDOW_HOURS",
    "Fault",
    "Item",
    "Outlet",
    "RUMOUR",
    "DENIAL",
    "SOVEREIGNTY_MAP",
    "items",
    "item",
    "item_ids",
    "items_by_outlet",
    "items_by_source",
    "stories",
    "story_items",
    "syndicated",
    "rumour_items",
    "denial_items",
    "sovereignty_map_items",
    "irrelevant_items",
    "misleading_items",
    "quirk_items",
    "faults",
    "fault",
    "error_faults",
    "counts",
]


def _press_story(flag: str) -> dict:
    return next(s for s in load_bank()["press"] if flag in (s.get("flags") or ()))


DENIAL: str = _press_story("denial")["id"]
RUMOUR: str = _press_story("denial")["denies"]
SOVEREIGNTY_MAP: str = _press_story("sovereignty_map")["id"]


def items(now: datetime | None = None) -> list[Item]:
    return build(now).items


def item(item_id: str, now: datetime | None = None) -> Item:
    return build(now).item(item_id)


def item_ids(outlet: str | None = None) -> list[str]:
    return [it.id for it in items() if outlet in (None, it.outlet)]


def items_by_outlet(now: datetime | None = None) -> dict[str, list[Item]]:
    out: dict[str, list[Item]] = {name: [] for name in OUTLETS}
    for it in items(now):
        out[it.outlet].append(it)
    return out


def items_by_source(now: datetime | None = None) -> dict[str, list[Item]]:
    """Source name (config/demo.yaml) → items it reaches; an item may be in two sources."""
    out: dict[str, list[Item]] = defaultdict(list)
    for it in items(now):
        for source in it.sources:
            out[source].append(it)
    return dict(out)


def stories() -> dict[str, dict]:
    """The Vietnamese press stories of the bank, by id (topics, tone, flags, outlets …)."""
    return {s["id"]: s for s in load_bank()["press"]}


def story_items(story: str) -> list[str]:
    """Every item about one story: press copies, foreign coverage, posts and reposts."""
    return [it.id for it in items() if it.story == story]


def syndicated(min_outlets: int = 2) -> dict[str, list[str]]:
    """Story → ids of the press items that are the same article with small edits (the
    original first), for stories carried by at least `min_outlets` outlets."""
    groups: dict[str, list[str]] = defaultdict(list)
    for it in items():
        if it.role in ("original", "copy") and it.kind != "social":
            groups[it.story].append(it.id)
    return {s: ids for s, ids in groups.items() if len(ids) >= min_outlets}


def rumour_items() -> list[str]:
    """Posts that spread the rumour (asserting it, not asking about or doubting it)."""
    return [it.id for it in items() if it.story == RUMOUR and "rumour" in it.flags]


def denial_items() -> list[str]:
    """Every item of the official denial (press copies, foreign coverage, posts sharing it)."""
    return story_items(DENIAL)


def sovereignty_map_items() -> list[str]:
    return [it.id for it in items() if "sovereignty_map" in it.flags]


def irrelevant_items() -> list[str]:
    """Items not about the province: other provinces, national news, a list of the 34
    provinces, a football away game, a home town in a biography … (`Item.note` says which)."""
    return [it.id for it in items() if not it.relevant]


def misleading_items() -> dict[str, str]:
    """Item id → chua_kiem_chung | sai_lech."""
    return {it.id: it.misleading for it in items() if it.misleading != "khong"}


def quirk_items(quirk: str) -> list[str]:
    """Items published with a text quirk: nfd | old_tone | cp1258 | no_diacritics | quote."""
    return [it.id for it in items() if quirk in it.quirks]


def faults() -> list[Fault]:
    return build().faults


def fault(kind: str) -> Fault:
    return next(f for f in faults() if f.kind == kind)


def error_faults() -> list[Fault]:
    """The faults a crawl should report, each once, against its source."""
    return [f for f in faults() if f.error]


def counts() -> dict[str, int]:
    """Items per outlet."""
    return {name: len(its) for name, its in items_by_outlet().items()}

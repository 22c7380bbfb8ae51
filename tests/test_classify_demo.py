"""Classification of the crawled demo network, end to end with the real bundled encoder and the
shipped heads: stories, relevance, the rumour before and after its official denial, and the
sovereignty-map item."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from classify.pipeline import Classifier
from crawlers.demo import expected
from crawlers.demo.server import DemoNetwork
from store.db import open_store
from store.models import Classification, Item
from store.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]


def crawl(network: DemoNetwork, data_dir: Path) -> None:
    env = {**os.environ, **network.env(), "DIEMTIN_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "diemtin", "crawl", "-p", "demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The demo network with the denial hidden, crawled and classified once."""
    data_dir = tmp_path_factory.mktemp("kho")
    cache = tmp_path_factory.mktemp("models")
    with DemoNetwork(port=0, hide=[expected.DENIAL]) as network:
        os.environ.update(network.env())
        profile, _ = load_profile(ROOT / "config" / "demo.yaml")
        factory = open_store(f"sqlite:///{data_dir / 'diemtin.db'}")
        clf = Classifier(profile, cache_dir=cache)
        crawl(network, data_dir)
        first = clf.run(factory)
        yield network, data_dir, factory, clf, first
        os.environ.pop("DIEMTIN_DEMO_URL", None)


def labels(network, factory) -> dict[str, Classification]:
    """Demo item id → its classification."""
    by_url = {it.url(network.base_url): it.id for it in expected.items()}
    with factory() as session:
        rows = session.execute(
            select(Item.url, Classification).join(Classification, Classification.item_id == Item.id)
        ).all()
    return {by_url[url]: cls for url, cls in rows if url in by_url}


def test_every_item_is_classified_with_its_model_version(world):
    network, _, factory, clf, first = world
    got = labels(network, factory)
    assert first.seen == len(got) >= 190
    assert {c.model_version for c in got.values()} == {clf.version}
    assert first.relevant < first.seen  # other provinces are not relevant


def test_syndicated_copies_fall_into_one_story_each(world):
    network, _, factory, _, _ = world
    got = labels(network, factory)
    for story, ids in expected.syndicated().items():
        present = [i for i in ids if i in got and got[i].relevant]
        if story == expected.DENIAL or len(present) < 2:
            continue
        assert len({got[i].story_id for i in present}) == 1, (story, present)


def test_items_about_other_provinces_are_not_relevant(world):
    network, _, factory, _, _ = world
    got = labels(network, factory)
    wrong = [i for i in expected.irrelevant_items() if i in got and got[i].relevant]
    assert not wrong
    relevant_press = [
        it.id for it in expected.items() if it.relevant and it.kind != "social" and it.id in got
    ]
    missed = [i for i in relevant_press if not got[i].relevant]
    assert len(missed) <= len(relevant_press) // 10, missed


def test_sovereignty_map_item_is_sensitive(world):
    network, _, factory, _, _ = world
    got = labels(network, factory)
    items = [i for i in expected.sovereignty_map_items() if i in got]
    assert items
    for i in items:
        assert got[i].sensitivity == "nhay_cam", (i, got[i].sensitivity_reasons)
        assert any(h["rule"] == "chu_quyen_sai_lech" for h in got[i].rules_fired)


def test_rumour_unverified_before_the_denial_and_false_after(world):
    network, data_dir, factory, clf, _ = world
    rumour = [i for i in expected.rumour_items()]
    got = labels(network, factory)
    before = {i: got[i].misleading for i in rumour if i in got}
    assert before and set(before.values()) == {"chua_kiem_chung"}, before
    for i in rumour:
        assert got[i].misleading_evidence["why"]
        assert got[i].sensitivity in ("can_chu_y", "nhay_cam")

    network.show(expected.DENIAL)
    crawl(network, data_dir)
    clf.run(factory)
    got = labels(network, factory)
    after = {i: got[i].misleading for i in rumour if i in got}
    assert set(after.values()) == {"sai_lech"}, after
    denial_urls = {expected.item(i).url(network.base_url) for i in expected.denial_items()}
    with factory() as session:
        denial_ids = set(session.scalars(select(Item.id).where(Item.url.in_(denial_urls))))
    for i in rumour:
        ev = got[i].misleading_evidence
        assert ev["statement"]["item_id"] in denial_ids
        assert got[i].sensitivity == "nhay_cam"

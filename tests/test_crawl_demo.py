"""The whole crawl against the bundled demo news network, as real `diemtin crawl` processes:
≥ 200 items, every outlet, no duplicates, each fault reported once against its source, clean
extraction, incremental re-crawls, content updates, and a crawl killed midway."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from crawlers.demo import expected
from crawlers.demo.server import DemoNetwork
from crawlers.normalize import clean_text

ROOT = Path(__file__).resolve().parents[1]
ATTRIBUTION = re.compile(r"^\(?(Theo|Nguồn:)\s.{0,80}\)?$")


@pytest.fixture(scope="module")
def network():
    with DemoNetwork(port=0) as net:
        yield net


def crawl_cmd(network, data_dir: Path, *args) -> list[str]:
    return [sys.executable, "-m", "diemtin", "crawl", "-p", "demo", *args]


def env_for(network, data_dir: Path) -> dict:
    return {**os.environ, **network.env(), "DIEMTIN_DATA_DIR": str(data_dir), "COLUMNS": "200"}


def crawl(network, data_dir: Path, *args) -> subprocess.CompletedProcess:
    result = subprocess.run(
        crawl_cmd(network, data_dir, *args),
        env=env_for(network, data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def query(data_dir: Path, sql: str, *params):
    with sqlite3.connect(data_dir / "diemtin.db") as db:
        return db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def first(network, tmp_path_factory):
    """One full crawl into a fresh store, shared by the checks below."""
    data_dir = tmp_path_factory.mktemp("kho")
    result = crawl(network, data_dir)
    return data_dir, result


def stored(data_dir: Path) -> dict[str, dict]:
    rows = query(
        data_dir,
        """
        select i.url, s.name, i.title, i.text, i.author, i.published_at, i.kind, i.language
        from items i join sources s on s.id = i.source_id""",
    )
    keys = ("url", "source", "title", "text", "author", "published_at", "kind", "language")
    return {r[0]: dict(zip(keys, r, strict=True)) for r in rows}


def test_full_crawl_fills_the_store(network, first):
    data_dir, result = first
    items = stored(data_dir)
    assert len(items) >= 200
    by_url = {it.url(network.base_url): it for it in expected.items()}
    missing = set(by_url) - set(items)
    # Everything the network serves is stored, except the fault pages that cannot be read.
    unreadable = {f.item for f in expected.error_faults() if f.item}
    assert {by_url[u].id for u in missing} <= unreadable, sorted(missing)[:5]
    sources = {row["source"] for row in items.values()}
    demo_sources = {s for it in expected.items() for s in it.sources}
    assert demo_sources <= sources
    # Zero duplicates by canonical URL, and no tracking parameters kept.
    assert query(data_dir, "select count(*) - count(distinct url) from items") == [(0,)]
    assert not [u for u in items if "utm_" in u]
    assert "Kết quả thu thập" in result.stdout


def test_each_fault_reported_once_against_its_source(network, first):
    data_dir, result = first
    logs = {
        name: json.loads(errors)
        for name, errors in query(data_dir, "select source_name, errors from fetch_log")
    }
    faults = expected.error_faults()
    assert {f.kind for f in faults} >= {
        "malformed_feed",
        "http_500",
        "slow",
        "redirect_loop",
        "robots_disallowed",
        "oversize",
    }
    for f in faults:
        hits = [
            e
            for e in logs[f.source]
            if e["url"].startswith(f.url(network.base_url))
            or (f.target and e["url"].startswith(f.url(network.base_url).split("?")[0]))
        ]
        assert len(hits) == 1, (f.kind, logs[f.source])
    reported = sum(len(v) for v in logs.values())
    assert reported == len(faults), logs
    status = dict(query(data_dir, "select source_name, status from fetch_log"))
    assert status["baohong"] == "error"
    assert {status[s] for s in status if s not in {f.source for f in faults}} == {"ok"}
    assert query(data_dir, "select status from crawl_runs") == [("partial",)]
    for f in faults:  # the summary names each failing source and its page
        assert f.path.split("?")[0] in result.stdout, f.kind


def test_extraction_recovers_title_time_author_and_body(network, first):
    data_dir, _ = first
    items = stored(data_dir)
    checked = 0
    for it in expected.items(network.now):
        row = items.get(it.url(network.base_url))
        if row is None:
            continue
        if it.kind != "social" or it.outlet in ("reddit-vietnam", "diendan"):
            assert row["title"] == it.title, it.id  # posts elsewhere have no title of their own
        assert row["published_at"] is not None, it.id
        got = dt.datetime.fromisoformat(row["published_at"] + "+00:00")
        assert got == it.published, (it.id, got, it.published)
        if it.author:
            assert row["author"] == it.author, it.id
        text = row["text"]
        assert unicodedata.is_normalized("NFC", text) and unicodedata.is_normalized(
            "NFC", row["title"]
        )
        # Attribution lines ("(Theo Báo Vĩnh Long)") are not article text.
        paras = [p for p in clean_text(it.text).split("\n\n") if not ATTRIBUTION.match(p)]
        first_para, last_para = paras[0], paras[-1]
        want = "\n\n".join(paras)
        if it.kind != "social":
            assert text.startswith(first_para[:60]), (it.id, text[:200])
            assert text.rstrip().endswith(last_para[-60:]), (it.id, text[-200:])
        else:
            assert want.split("\n")[0][:40] in text, (it.id, text[:200])
        assert row["language"] == it.language, it.id
        checked += 1
    assert checked >= 200


def test_cp1258_page_is_decoded(network, first):
    data_dir, _ = first
    f = expected.fault("cp1258")
    it = expected.item(f.item)
    row = stored(data_dir)[it.url(network.base_url)]
    assert row["title"] == it.title
    assert clean_text(it.text)[:80] in row["text"]


def test_second_crawl_fetches_no_article_twice(network, first):
    data_dir, _ = first
    before = network.hits.snapshot()
    crawl(network, data_dir)
    after = network.hits.snapshot()
    fault_paths = {f.path.split("?")[0] for f in expected.faults()}
    for it in expected.items():
        if it.kind == "social" or it.path in fault_paths:
            continue
        assert after[it.path] - before[it.path] == 0, it.path
    run2 = query(
        data_dir,
        "select sum(items_new), sum(items_updated) from fetch_log "
        "where run_id = (select max(id) from crawl_runs)",
    )
    assert run2 == [(0, 0)]


def test_changed_article_is_updated_not_duplicated(network, first):
    data_dir, _ = first
    target = next(
        it for it in expected.items() if it.outlet == "baovinhlong" and it.role == "original"
    )
    count = query(data_dir, "select count(*) from items")[0][0]
    network.edit(
        target.id,
        new_text=target.text + "\n\nChiều cùng ngày, UBND tỉnh Vĩnh Long "
        "đã họp khẩn để chỉ đạo khắc phục, giao Sở Nông nghiệp và Môi trường báo cáo.",
    )
    crawl(network, data_dir)
    assert query(data_dir, "select count(*) from items")[0][0] == count
    [(text, updated)] = query(
        data_dir, "select text, updated_at from items where url = ?", target.url(network.base_url)
    )
    assert "họp khẩn" in text and updated is not None


def test_killed_crawl_loses_and_duplicates_nothing(network, first, tmp_path):
    complete = set(stored(first[0]))
    data_dir = tmp_path / "kho"
    proc = subprocess.Popen(
        crawl_cmd(network, data_dir),
        env=env_for(network, data_dir),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if (data_dir / "diemtin.db").exists():
                try:
                    if query(data_dir, "select count(*) from items")[0][0] >= 40:
                        break
                except sqlite3.OperationalError:
                    pass
        else:
            pytest.fail("the crawl stored nothing in 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = query(data_dir, "select count(*) from items")[0][0]
    assert 40 <= partial < len(complete)
    crawl(network, data_dir)
    assert set(stored(data_dir)) == complete
    assert query(data_dir, "select count(*) - count(distinct url) from items") == [(0,)]
    assert query(data_dir, "select status from crawl_runs order by id") == [
        ("interrupted",),
        ("partial",),
    ]

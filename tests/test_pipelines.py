"""The item pipeline steps and the store writer, on a real SQLite store."""

import datetime as dt
import unicodedata

import pytest

from crawlers.items import ScrapedItem
from crawlers.middlewares import retry_after_seconds
from crawlers.pipelines import Invalid, normalise, record, validate
from store.db import open_store
from store.items import find_item, save_item, stored_versions
from store.models import Item, Source
from store.profile import SourceConfig
from store.queries import sync_sources

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=VN)

TEXT = (
    "Sáng 20/11, UBND tỉnh Vĩnh Long tổ chức hội nghị xúc tiến đầu tư vào khu kinh tế Định An "
    "(tỉnh Trà Vinh cũ), thu hút hơn 200 doanh nghiệp trong và ngoài nước tham dự.\n\n"
    "Tại hội nghị, tỉnh trao chủ trương đầu tư cho 12 dự án với tổng vốn hơn 18.000 tỷ đồng."
)


def article(**kw) -> ScrapedItem:
    base = dict(
        url="https://baovinhlong.example/xuc-tien-dau-tu.html?utm_source=facebook&utm_medium=x",
        source="baovinhlong",
        kind="press_local",
        language="vi",
        title="Vĩnh Long thu hút hơn 18.000 tỷ đồng vốn đầu tư - Báo Vĩnh Long",
        text=TEXT,
        author="Thanh Hòa",
        published_at=dt.datetime(2026, 11, 20, 8, 30, tzinfo=VN),
    )
    base.update(kw)
    return ScrapedItem(**base)


@pytest.fixture
def store(tmp_path):
    factory = open_store(f"sqlite:///{tmp_path / 'kho.db'}")
    with factory() as session:
        rows = sync_sources(
            session,
            "demo",
            [
                SourceConfig(
                    name="baovinhlong",
                    title="Báo Vĩnh Long",
                    kind="press_local",
                    type="feed",
                    urls=["https://baovinhlong.example/rss"],
                )
            ],
        )
        session.commit()
    return factory, rows["baovinhlong"].id


def save(factory, source_id, item):
    with factory() as session:
        outcome, stored = save_item(session, session.get(Source, source_id), record(item), now=NOW)
        return outcome, stored.id


def test_validate_refuses_empty_and_clears_future_dates():
    with pytest.raises(Invalid, match="nội dung"):
        validate(article(text="Xem video."), NOW)
    with pytest.raises(Invalid, match="tiêu đề"):
        validate(article(title="  "), NOW)
    item = validate(article(published_at=NOW + dt.timedelta(days=2)), NOW)
    assert item.published_at is None
    social = validate(article(kind="social", text="Tra Vinh ngap qua ba con oi"), NOW)
    assert social.text


def test_normalise_cleans_title_url_and_unicode():
    nfd = unicodedata.normalize("NFD", TEXT)
    item = normalise(article(text=nfd, author=unicodedata.normalize("NFD", "Thanh Hòa")))
    assert item.url == "https://baovinhlong.example/xuc-tien-dau-tu.html"
    assert item.title == "Vĩnh Long thu hút hơn 18.000 tỷ đồng vốn đầu tư"
    assert item.text == unicodedata.normalize("NFC", TEXT)
    assert item.author == "Thanh Hòa"


def test_store_new_unchanged_updated_and_duplicates(store):
    factory, sid = store
    first = normalise(validate(article(), NOW))
    assert save(factory, sid, first)[0] == "new"
    again = normalise(validate(article(), NOW))
    assert save(factory, sid, again)[0] == "unchanged"
    edited = normalise(
        validate(article(text=TEXT + "\n\nDự kiến tạo việc làm cho 5.000 lao động."), NOW)
    )
    outcome, item_id = save(factory, sid, edited)
    assert outcome == "updated"
    # Same article at a second address of the same outlet: folded into the first.
    copy = normalise(
        validate(article(url="https://baovinhlong.example/m/xuc-tien-dau-tu-2.html"), NOW)
    )
    outcome, dup_id = save(factory, sid, copy)
    assert (outcome, dup_id) == ("duplicate", item_id)
    with factory() as session:
        assert session.query(Item).count() == 1
        stored = session.get(Item, item_id)
        assert "5.000 lao động" in stored.text
        assert stored.updated_at is not None
        assert "<html" not in (stored.html or "")
        found = find_item(session, ["https://baovinhlong.example/m/xuc-tien-dau-tu-2.html"])
        assert found.id == item_id
        versions = stored_versions(
            session,
            [
                "https://baovinhlong.example/xuc-tien-dau-tu.html",
                "https://baovinhlong.example/m/xuc-tien-dau-tu-2.html",
                "https://baovinhlong.example/chua-co.html",
            ],
        )
    assert set(versions) == {
        "https://baovinhlong.example/xuc-tien-dau-tu.html",
        "https://baovinhlong.example/m/xuc-tien-dau-tu-2.html",
    }


def test_same_title_a_month_apart_is_a_new_item(store):
    factory, sid = store
    save(factory, sid, normalise(validate(article(), NOW)))
    later = article(
        url="https://baovinhlong.example/xuc-tien-dau-tu-thang-12.html",
        published_at=dt.datetime(2026, 11, 20, 8, 30, tzinfo=VN) + dt.timedelta(days=30),
    )
    assert save(factory, sid, normalise(validate(later, NOW + dt.timedelta(days=31))))[0] == "new"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b"120", 120.0), ("7", 7.0), (None, None), (b"soon", None)],
)
def test_retry_after_seconds(header, expected):
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date():
    assert retry_after_seconds("Sat, 21 Nov 2026 09:00:30 GMT", now=1_795_251_600.0) == 30.0

"""The store on SQLite and PostgreSQL: schema and migrations, times, search, queries."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
import zlib

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from store.db import alembic_config, make_engine, migrate, open_store, session_scope
from store.items import find_item, stored_versions
from store.models import CrawlRun, FetchLog, Item, ItemUrl, Rejected, Source
from store.profile import SourceConfig
from store.queries import (
    finish_run,
    mark_interrupted_runs,
    recent_fetch_logs,
    source_health,
    start_run,
    sync_sources,
)
from store.search import MARK_END, MARK_START, fts5_query, parse_query, search_items

UTC = dt.UTC
VN = dt.timezone(dt.timedelta(hours=7), "ICT")
TABLES = {"sources", "crawl_runs", "fetch_log", "items", "item_urls", "rejected_urls"}


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def vn(y: int, mo: int, d: int, h: int = 7, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=VN)


def add_source(session, name: str, kind: str, title: str, language: str = "vi") -> Source:
    src = Source(
        name=name,
        title=title,
        profile="vinhlong",
        kind=kind,
        language=language,
        fetch_type="feed",
        urls=[f"https://{name}.example/rss"],
    )
    session.add(src)
    session.flush()
    return src


def add_item(session, source: Source, slug: str, title: str, body: str, published, **kw) -> Item:
    title = unicodedata.normalize("NFC", title)
    body = unicodedata.normalize("NFC", body)
    item = Item(
        url=f"https://{source.name}.example/{slug}.html",
        source=source,
        kind=kw.pop("kind", source.kind),
        language=source.language,
        title=title,
        text=body,
        published_at=published,
        content_hash=hashlib.sha256(body.encode()).hexdigest(),
        title_key=hashlib.sha1(title.lower().encode()).hexdigest(),
        **kw,
    )
    session.add(item)
    session.flush()
    return item


# --- schema, migrations, types ---------------------------------------------------------------


def test_migrations_apply_on_empty_database_and_are_idempotent(db_url):
    engine = make_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # a second start changes nothing and does not fail
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= TABLES
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head
        if engine.dialect.name == "sqlite":
            assert "items_fts" in insp.get_table_names()
        else:
            assert "search" in {c["name"] for c in insp.get_columns("items")}
    finally:
        engine.dispose()
    # open_store migrates too, on an already migrated database
    factory = open_store(db_url)
    with session_scope(factory) as s:
        assert s.scalar(select(Source).limit(1)) is None
    factory.kw["bind"].dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    factory = open_store(sqlite_url)
    with factory() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
    factory.kw["bind"].dispose()


def test_aware_datetimes_round_trip_in_utc(session_factory):
    published = vn(2026, 11, 20, 8, 30)
    with session_scope(session_factory) as s:
        src = add_source(s, "baovinhlong", "press_local", "Báo Vĩnh Long")
        item_id = add_item(s, src, "a1", "Tiêu đề", "Nội dung", published).id
    with session_factory() as s:
        got = s.get(Item, item_id).published_at
        assert got == published
        assert got.utcoffset() == dt.timedelta(0)
        assert (got.hour, got.minute) == (1, 30)
        assert s.get(Item, item_id).fetched_at.tzinfo is not None


def test_naive_datetimes_are_refused(db_session):
    src = add_source(db_session, "baovinhlong", "press_local", "Báo Vĩnh Long")
    with pytest.raises((ValueError, StatementError), match="naive"):
        add_item(db_session, src, "a1", "Tiêu đề", "Nội dung", dt.datetime(2026, 11, 20, 8, 30))


def test_canonical_url_is_unique(db_session):
    src = add_source(db_session, "baovinhlong", "press_local", "Báo Vĩnh Long")
    add_item(db_session, src, "same", "Bài thứ nhất", "Nội dung một", vn(2026, 11, 20))
    with pytest.raises(IntegrityError):
        add_item(db_session, src, "same", "Bài thứ hai", "Nội dung hai", vn(2026, 11, 21))


def test_compressed_raw_html_round_trips(session_factory):
    html = (
        "<html><head><meta charset='utf-8'><title>Trà Vinh chống hạn mặn</title></head>"
        "<body><article><h1>Trà Vinh chống hạn mặn</h1><p>Nông dân huyện Cầu Ngang "
        "đắp đập ngăn mặn, trữ nước ngọt phục vụ sản xuất.</p></article></body></html>"
    ) * 20
    with session_scope(session_factory) as s:
        src = add_source(s, "baovinhlong", "press_local", "Báo Vĩnh Long")
        raw = zlib.compress(html.encode("utf-8"), 9)
        item_id = add_item(s, src, "html", "Trà Vinh chống hạn mặn", "x", None, raw_html=raw).id
        assert len(raw) < len(html.encode("utf-8")) / 5
    with session_factory() as s:
        item = s.get(Item, item_id)
        assert item.html == html
        item.raw_html = None
        assert item.html is None


# --- search ----------------------------------------------------------------------------------


@pytest.fixture
def corpus(session_factory):
    """A week of coverage about Vĩnh Long (with the former Trà Vinh province), by id name."""
    with session_scope(session_factory) as s:
        local = add_source(s, "baovinhlong", "press_local", "Báo Vĩnh Long")
        central = add_source(s, "vnexpress", "press_central", "VnExpress")
        foreign = add_source(s, "reuters", "press_foreign", "Reuters", language="en")
        social = add_source(s, "fb-caungang", "social", "Cộng đồng Cầu Ngang")
        items = {
            "salt": add_item(
                s,
                local,
                "xam-nhap-man",
                "Xâm nhập mặn sâu vào nội đồng Trà Vinh, nông dân Cầu Ngang trữ nước ngọt",
                "Độ mặn trên sông Cổ Chiên đo được 4‰ cách cửa biển 50 km. Tại huyện Cầu Ngang, "
                "bà con đắp đập tạm, nạo vét kênh nội đồng và trữ nước ngọt trong ao, bồn "
                "chứa để tưới hoa màu trong mùa khô 2026–2027.",
                vn(2026, 11, 18, 7, 15),
            ),
            "iuu": add_item(
                s,
                local,
                "cao-diem-iuu",
                "Vĩnh Long ra quân cao điểm chống khai thác IUU",
                "Ban Chỉ đạo tỉnh yêu cầu kiểm soát chặt tàu cá ra vào cảng, xử lý nghiêm tàu "
                "mất kết nối thiết bị giám sát hành trình, quyết tâm cùng cả nước gỡ thẻ vàng "
                "của Ủy ban châu Âu.",
                vn(2026, 11, 19, 9, 0),
            ),
            "fishers": add_item(
                s,
                central,
                "ngu-dan-bam-bien",
                "Ngư dân Cầu Ngang bám biển sau đợt kiểm tra",
                "Hơn 200 tàu cá của ngư dân xã Mỹ Long được kiểm tra giấy tờ trước khi ra khơi. "
                "Lực lượng biên phòng tuyên truyền quy định về chống khai thác hải sản bất hợp "
                "pháp, không báo cáo và không theo quy định (IUU).",
                vn(2026, 11, 20, 6, 45),
            ),
            "reuters": add_item(
                s,
                foreign,
                "mekong-salt",
                "Mekong Delta farmers brace for saltwater intrusion",
                "In Tra Vinh, now part of Vinh Long province, farmers are storing fresh water "
                "as seawater pushes further inland than in previous dry seasons.",
                vn(2026, 11, 17, 14, 0),
            ),
            "flood": add_item(
                s,
                social,
                "post-914",
                "Đường tỉnh 914 qua Cầu Ngang ngập sâu sau triều cường",
                "Sáng nay nước lên nhanh, nhiều đoạn ngập quá bánh xe máy, mọi người đi lại "
                "cẩn thận nha. Triều cường còn kéo dài tới cuối tuần.",
                vn(2026, 11, 10, 5, 30),
            ),
            "dongthap": add_item(
                s,
                central,
                "sat-lo",
                "Đồng Tháp và Vĩnh Long phối hợp phòng chống sạt lở bờ sông Tiền",
                "Hai tỉnh thống nhất quan trắc các điểm sạt lở nguy hiểm, di dời hộ dân ra "
                "khỏi vùng nguy cơ trước mùa mưa.",
                vn(2026, 11, 15, 10, 0),
            ),
        }
        ids = {k: v.id for k, v in items.items()}
    return ids


def found(session_factory, query: str, **kw) -> list[int]:
    with session_factory() as s:
        return [h.id for h in search_items(s, query, **kw)]


def test_search_finds_vietnamese_with_diacritics_nfc_and_nfd(session_factory, corpus):
    for q in ("Trà Vinh", nfd("Trà Vinh"), "TRÀ VINH", "nước ngọt", nfd("Xâm nhập mặn")):
        assert corpus["salt"] in found(session_factory, q), q
    assert found(session_factory, "Đồng Tháp") == [corpus["dongthap"]]


def test_search_hit_carries_what_a_result_list_shows(session_factory, corpus):
    with session_factory() as s:
        (hit,) = search_items(s, '"trữ nước ngọt" Cổ Chiên')
    assert hit.id == corpus["salt"]
    assert hit.url == "https://baovinhlong.example/xam-nhap-man.html"
    assert hit.title.startswith("Xâm nhập mặn")
    assert (hit.source, hit.kind) == ("baovinhlong", "press_local")
    assert hit.published_at == vn(2026, 11, 18, 7, 15)
    assert MARK_START in hit.snippet and MARK_END in hit.snippet
    # the passage around a match in the text (which one differs between backends)
    assert any(f"{MARK_START}{w}{MARK_END}" in hit.snippet for w in ("ngọt", "Chiên"))
    assert hit.rank > 0


def test_search_without_diacritics(session_factory, db_url, corpus):
    # English and unaccented text is found by unaccented queries on both backends.
    assert found(session_factory, "tra vinh farmers") == [corpus["reuters"]]
    if db_url.startswith("sqlite"):
        # FTS5 folds diacritics, and the query adds `đ` for `d`.
        assert set(found(session_factory, "tra vinh")) == {corpus["salt"], corpus["reuters"]}
        assert set(found(session_factory, "cau ngang")) == {
            corpus["salt"],
            corpus["fishers"],
            corpus["flood"],
        }
        assert found(session_factory, "dong thap") == [corpus["dongthap"]]
        assert found(session_factory, "DUONG TINH 914") == [corpus["flood"]]
    else:
        # 'simple' does not fold diacritics (documented in store.search).
        assert found(session_factory, "tra vinh") == [corpus["reuters"]]
        assert found(session_factory, "dong thap") == []


def test_search_ranks_title_hits_first(session_factory, corpus):
    hits = found(session_factory, "IUU")
    assert hits == [corpus["iuu"], corpus["fishers"]]  # title, then body only
    assert found(session_factory, "khai thác")[0] == corpus["iuu"]


def test_search_filters_since_source_kind(session_factory, corpus):
    q = "Cầu Ngang"
    assert set(found(session_factory, q)) == {corpus["salt"], corpus["fishers"], corpus["flood"]}
    since = vn(2026, 11, 18, 7, 15)  # exactly the salt item's time: included
    assert set(found(session_factory, q, since=since)) == {corpus["salt"], corpus["fishers"]}
    assert set(found(session_factory, q, since=since.astimezone(UTC))) == {
        corpus["salt"],
        corpus["fishers"],
    }
    assert found(session_factory, q, source="vnexpress") == [corpus["fishers"]]
    assert set(found(session_factory, q, source=["vnexpress", "fb-caungang"])) == {
        corpus["fishers"],
        corpus["flood"],
    }
    assert len(found(session_factory, q, source=[])) == 3  # an empty list filters nothing
    assert found(session_factory, q, kind="social") == [corpus["flood"]]
    assert found(session_factory, q, kind="press_foreign") == []
    assert found(session_factory, q, source="vnexpress", kind="press_local") == []
    with pytest.raises((ValueError, StatementError), match="naive"):
        found(session_factory, q, since=dt.datetime(2026, 11, 18))


def test_search_limit_and_offset(session_factory, corpus):
    everything = found(session_factory, "Cầu Ngang")
    assert found(session_factory, "Cầu Ngang", limit=1) == everything[:1]
    assert found(session_factory, "Cầu Ngang", limit=2, offset=1) == everything[1:3]
    assert found(session_factory, "Cầu Ngang", limit=0) == []
    assert found(session_factory, "Cầu Ngang", offset=-5) == everything


def test_search_phrases_exclusion_or_prefix(session_factory, corpus):
    assert found(session_factory, '"nước ngọt"') == [corpus["salt"]]
    assert found(session_factory, '"ngọt nước"') == []  # a phrase keeps its order
    assert set(found(session_factory, "Cầu Ngang -IUU")) == {corpus["salt"], corpus["flood"]}
    assert found(session_factory, 'Cầu Ngang -"triều cường" -IUU') == [corpus["salt"]]
    assert set(found(session_factory, "sạt lở OR IUU")) == {
        corpus["dongthap"],
        corpus["iuu"],
        corpus["fishers"],
    }
    assert set(found(session_factory, "triều OR sạt lở -Tiền")) == {corpus["flood"]}
    assert corpus["fishers"] in found(session_factory, "khai thá*")
    assert found(session_factory, "saltwat*") == [corpus["reuters"]]
    assert found(session_factory, 'unclosed "Mekong Delta') == []
    assert found(session_factory, '"Mekong Delta') == [corpus["reuters"]]
    # a lower-case "or" is a word, not an operator
    assert found(session_factory, "IUU or") == []


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "-", "-IUU", '""', '" "', "*", "OR", "-- ;"])
def test_search_with_nothing_to_look_for_returns_nothing(session_factory, corpus, query):
    assert found(session_factory, query) == []


HOSTILE = [
    "'; DROP TABLE items;--",
    "Trà Vinh'; DELETE FROM items WHERE '1'='1",
    '" OR 1=1 --',
    'Trà Vinh" OR "1"="1',
    "title:IUU",
    "text : IUU",
    "^Trà",
    "(Trà Vinh",
    "Trà) Vinh(",
    "NEAR(Trà Vinh, 2)",
    "Trà AND",
    "NOT IUU",
    "IUU NOT",
    "OR OR OR",
    "a* * ** *b",
    "{title text}: IUU",
    "Trà + Vinh - Cầu",
    "\\",
    '\\" \\\\ "',
    "%_%",
    "$1 :param ?",
    "' || pg_sleep(5) || '",
    "!! & | <-> :* ''",
    "items_fts MATCH 'x'",
    "IUU\x00; DROP TABLE items",
    "Trà\ud800Vinh",
    "\u200b\ufeff",
    "🐟 tàu cá 🇻🇳",
    "Cầu Ngang " * 400,
    "x" * 5000,
]


def test_search_metacharacters_are_harmless(session_factory, corpus):
    with session_factory() as s:
        before = s.scalar(select(Item.id).where(Item.id == corpus["iuu"]))
        for q in HOSTILE:
            hits = search_items(s, q)
            assert isinstance(hits, list), q
        assert s.scalar(select(Item.id).where(Item.id == corpus["iuu"])) == before
        assert len(s.scalars(select(Item)).all()) == len(corpus)
    # the quoted words are still searched as words
    assert found(session_factory, "^IUU:") == [corpus["iuu"], corpus["fishers"]]
    assert found(session_factory, "title:IUU") == []  # one phrase: "title IUU"
    assert corpus["iuu"] in found(session_factory, "IUU\x00")
    assert corpus["salt"] in found(session_factory, "(Trà Vinh")


def test_updating_text_updates_the_search_index(session_factory, corpus):
    assert found(session_factory, "triều cường") == [corpus["flood"]]
    with session_scope(session_factory) as s:
        item = s.get(Item, corpus["flood"])
        item.title = "Đường tỉnh 914 đã thông xe"
        item.text = "Nước rút, xe cộ lưu thông bình thường, không còn điểm ngập."
    assert found(session_factory, "triều cường") == []
    assert found(session_factory, "thông xe") == [corpus["flood"]]
    assert found(session_factory, "lưu thông") == [corpus["flood"]]


def test_deleting_an_item_removes_it_from_search(session_factory, corpus):
    with session_scope(session_factory) as s:
        s.add(ItemUrl(url="https://m.baovinhlong.example/cao-diem-iuu", item_id=corpus["iuu"]))
    with session_scope(session_factory) as s:
        s.delete(s.get(Item, corpus["iuu"]))
    assert found(session_factory, "IUU") == [corpus["fishers"]]
    with session_factory() as s:
        assert s.scalars(select(ItemUrl)).all() == []  # cascaded


# --- query parsing (no database) -------------------------------------------------------------


def test_parse_query_terms():
    p = parse_query('Trà Vinh "hạn mặn" -IUU -"tàu cá" sạt* OR lở')
    assert [[t.text for t in g] for g in p.groups] == [["Trà", "Vinh", "hạn mặn", "sạt"], ["lở"]]
    assert [t.text for t in p.exclude] == ["IUU", "tàu cá"]
    assert p.groups[0][3].prefix
    assert parse_query(nfd("Trà")).groups[0][0].text == "Trà"  # NFC
    assert not parse_query("-IUU")  # only exclusions: nothing to search for
    curly = parse_query("“hạn mặn” -«tàu cá»")
    assert [t.text for t in curly.groups[0]] == ["hạn mặn"]
    assert [t.text for t in curly.exclude] == ["tàu cá"]


def test_fts5_expression_quotes_every_term():
    expr = fts5_query(parse_query('dan "Cầu Ngang" -x" OR ('))  # unclosed: "OR" is a word
    assert expr == '(("dan" OR "đan") AND "Cầu Ngang" AND "OR") NOT "x"'
    expr = fts5_query(parse_query("a b OR dd* -c -d"))
    prefixes = '("dd" * OR "dđ" * OR "đd" * OR "đđ" *)'
    assert expr == f'(("a" AND "b") OR ({prefixes})) NOT "c" NOT ("d" OR "đ")'
    expr = fts5_query(parse_query('a"b OR (c NEAR d) title:e ^f'))
    # every piece of user text sits inside double quotes
    outside = expr.split('"')[0::2]
    assert all(set(part) <= set("() ANDORT") for part in outside), expr


# --- queries ---------------------------------------------------------------------------------


def cfg(name: str, title: str, **kw) -> SourceConfig:
    kw.setdefault("kind", "press_local")
    kw.setdefault("type", "feed")
    kw.setdefault("urls", [f"https://{name}.example/rss"])
    return SourceConfig(name=name, title=title, **kw)


def test_sync_sources_upserts_and_disables(session_factory):
    with session_scope(session_factory) as s:
        other = sync_sources(s, "soctrang", [cfg("baosoctrang", "Báo Sóc Trăng")])
        assert other["baosoctrang"].enabled
        got = sync_sources(
            s,
            "vinhlong",
            [
                cfg("baovinhlong", "Báo Vĩnh Long"),
                cfg("thvl", "Truyền hình Vĩnh Long", type="sitemap", weight=0.8),
            ],
        )
        assert set(got) == {"baovinhlong", "thvl"}
        assert got["thvl"].fetch_type == "sitemap" and got["thvl"].weight == 0.8
        first_id = got["baovinhlong"].id

    with session_scope(session_factory) as s:
        got = sync_sources(
            s,
            "vinhlong",
            [
                cfg("baovinhlong", "Báo Vĩnh Long điện tử", urls=["https://bvl.example/feed"]),
                cfg("travinh-online", "Trà Vinh Online", kind="social", type="forum"),
                cfg("vnexpress", "VnExpress", kind="press_central", enabled=False),
            ],
        )
        assert set(got) == {"baovinhlong", "travinh-online", "vnexpress"}

    with session_factory() as s:
        rows = {r.name: r for r in s.scalars(select(Source))}
        assert set(rows) == {"baosoctrang", "baovinhlong", "thvl", "travinh-online", "vnexpress"}
        assert rows["baovinhlong"].id == first_id  # updated in place
        assert rows["baovinhlong"].title == "Báo Vĩnh Long điện tử"
        assert rows["baovinhlong"].urls == ["https://bvl.example/feed"]
        assert rows["baovinhlong"].enabled
        assert not rows["thvl"].enabled  # gone from the profile: kept, disabled
        assert not rows["vnexpress"].enabled  # disabled in the profile
        assert (rows["travinh-online"].kind, rows["travinh-online"].fetch_type) == (
            "social",
            "forum",
        )
        assert rows["baosoctrang"].enabled  # another profile is left alone

    with session_scope(session_factory) as s:  # back in the profile: enabled again
        sync_sources(s, "vinhlong", [cfg("thvl", "Truyền hình Vĩnh Long")])
    with session_factory() as s:
        assert s.scalar(select(Source.enabled).where(Source.name == "thvl"))
        assert not s.scalar(select(Source.enabled).where(Source.name == "baovinhlong"))


def test_start_finish_and_interrupted_runs(session_factory):
    with session_scope(session_factory) as s:
        dead = start_run(s, "vinhlong", {"sources": ["baovinhlong"], "since": vn(2026, 11, 20)})
        fine = start_run(s, "vinhlong", {})
        s.add(
            FetchLog(
                run_id=fine.id,
                source_name="baovinhlong",
                status="ok",
                items_found=12,
                items_new=7,
                items_updated=2,
                errors=[],
            )
        )
        s.add(
            FetchLog(
                run_id=fine.id,
                source_name="thvl",
                status="partial",
                items_new=1,
                errors=[{"url": "https://thvl.example/x", "message": "HTTP 503"}, "timeout"],
            )
        )
        finish_run(s, fine, "partial")
        dead_id, fine_id = dead.id, fine.id
        assert dead.args["since"].startswith("2026-11-20")
        with pytest.raises(ValueError):
            finish_run(s, fine, "done")

    with session_factory() as s:
        run = s.get(CrawlRun, fine_id)
        assert (run.status, run.items_new, run.items_updated, run.errors) == ("partial", 8, 2, 2)
        assert run.finished_at >= run.started_at
        assert [log.source_name for log in recent_fetch_logs(s, fine_id)] == [
            "baovinhlong",
            "thvl",
        ]

    with session_scope(session_factory) as s:
        long_ago = dt.datetime(2000, 1, 1, tzinfo=UTC)
        assert mark_interrupted_runs(s, started_before=long_ago) == 0
        assert mark_interrupted_runs(s) == 1
        assert mark_interrupted_runs(s) == 0
    with session_factory() as s:
        run = s.get(CrawlRun, dead_id)
        assert run.status == "interrupted"
        assert run.finished_at == run.started_at  # no logs: it ended, as far as we know, there
        assert s.get(CrawlRun, fine_id).status == "partial"


def test_stored_versions_and_find_item_across_tables(session_factory):
    """What a crawl asks before fetching: is this address stored (item, alias or refused)?"""
    base = "https://baovinhlong.example"
    with session_scope(session_factory) as s:
        src = add_source(s, "baovinhlong", "press_local", "Báo Vĩnh Long")
        item = add_item(s, src, "a1", "Tiêu đề", "Nội dung", vn(2026, 11, 20))
        s.add(ItemUrl(url=f"{base}/a1.html?utm_source=facebook", item_id=item.id))
        s.add(Rejected(url=f"{base}/empty.html", source_name="baovinhlong", reason="no text"))
        item_id = item.id
    asked = [
        f"{base}/a1.html",
        f"{base}/a1.html?utm_source=facebook",
        f"{base}/empty.html",
        f"{base}/new.html",
        "",
    ]
    with session_factory() as s:
        assert set(stored_versions(s, asked)) == set(asked[:3])
        assert stored_versions(s, []) == {}
        many = [f"{base}/n{i}.html" for i in range(1200)] + [f"{base}/a1.html"]
        assert set(stored_versions(s, many)) == {f"{base}/a1.html"}
        assert find_item(s, [f"{base}/a1.html"]).id == item_id
        assert find_item(s, [f"{base}/a1.html?utm_source=facebook"]).id == item_id
        assert find_item(s, [f"{base}/empty.html"]) is None


def test_source_health(session_factory):
    now = dt.datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    since = now - dt.timedelta(days=7)
    with session_scope(session_factory) as s:
        bvl = add_source(s, "baovinhlong", "press_local", "Báo Vĩnh Long")
        add_source(s, "thvl", "press_local", "Truyền hình Vĩnh Long")
        quiet = add_source(s, "vnexpress", "press_central", "VnExpress")
        quiet.enabled = False
        run = start_run(s, "vinhlong", {})
        for days_ago, status, errors in [
            (30, "ok", []),  # before the window: counts for last success only
            (6, "ok", []),
            (3, "error", [{"message": "HTTP 500"}]),
            (1, "not_modified", []),
            (0.5, "error", [{"message": "timeout"}]),
        ]:
            at = now - dt.timedelta(days=days_ago)
            s.add(
                FetchLog(
                    run_id=run.id,
                    source_name="baovinhlong",
                    status=status,
                    started_at=at,
                    finished_at=at + dt.timedelta(minutes=2),
                    errors=errors,
                )
            )
        for i in range(14):
            add_item(
                s,
                bvl,
                f"n{i}",
                f"Tin {i}",
                "Nội dung",
                None,
                fetched_at=now - dt.timedelta(hours=10 * i),
            )
        add_item(s, bvl, "old", "Tin cũ", "Nội dung", None, fetched_at=now - dt.timedelta(days=40))

    with session_factory() as s:
        health = {h["name"]: h for h in source_health(s, since, now=now)}
    assert list(health) == ["baovinhlong", "thvl", "vnexpress"]
    h = health["baovinhlong"]
    assert (h["runs"], h["errors"], h["partial"]) == (4, 2, 0)
    assert h["error_rate"] == 0.5
    assert h["last_success"] == now - dt.timedelta(days=1) + dt.timedelta(minutes=2)
    assert h["last_status"] == "error" and h["last_error"] == "timeout"
    assert h["last_run_at"] == now - dt.timedelta(days=0.5)
    assert (h["items"], h["items_total"]) == (14, 15)
    assert h["items_per_day"] == pytest.approx(2.0)
    t = health["thvl"]
    assert (t["runs"], t["error_rate"], t["last_success"], t["items_per_day"]) == (
        0,
        None,
        None,
        0,
    )
    assert health["vnexpress"]["enabled"] is False
    with session_factory() as s:  # default window: the last 7 days
        assert source_health(s, now=now) == list(health.values())

"""Full-text search with the queue's filters, and its CSV/XLSX export, on a real store through
the real app. Exports are parsed back (csv, openpyxl) and checked cell by cell."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from reviewkit import VN, add_item, app_client, at, make_world
from sqlalchemy import func, select, text

import review.search
from review.decisions import record_decision
from review.search import HEADERS, guard_cell, highlight
from store.models import Item

ALL = 11  # items in the test world


@pytest.fixture
def world(sqlite_url, tmp_path):
    return make_world(sqlite_url, tmp_path / "data")


def found(world, html: str) -> set[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return {by_id[int(i)] for i in re.findall(r'<a class="title" href="/items/(\d+)"', html)}


def in_order(world, html: str) -> list[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return [by_id[int(i)] for i in re.findall(r'<a class="title" href="/items/(\d+)"', html)]


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def add_post(world, name: str, title: str, text: str, *, handling: str) -> int:
    """A flagged forum post with an officer's proposed handling."""
    item_id = add_item(
        world,
        name,
        "diendan",
        title,
        at(world.day, "06:00"),
        text,
        tone="tieu_cuc",
        sensitivity="can_chu_y",
        places=[],
        why=[],
    )
    with world.factory() as s:
        record_decision(s, item_id, user="canbo", action="confirm", changes={"handling": handling})
        s.commit()
    return item_id


# ── search ───────────────────────────────────────────────────────────────────────────────────


def test_search_with_diacritics_any_backend(db_url, tmp_path):
    world = make_world(db_url, tmp_path / "data")
    client = app_client(world, "canbo")
    html = client.get("/search", params={"q": "Cầu Ngang"}).text
    # the whole archive: the denial (not flagged) and the rumour's copy (a story's copy) too
    assert found(world, html) == {"rumour", "rumour_copy", "denial", "xss"}
    results = html.split('<table class="responsive search-results">', 1)[1]
    assert "<mark>Cầu</mark> <mark>Ngang</mark>" in results
    assert "«" not in results and "»" not in results
    assert "<script>alert" not in results
    html = client.get("/search", params={"q": "Cầu Ngang", "sensitivity": "nhay_cam"}).text
    assert found(world, html) == {"rumour", "rumour_copy"}


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("vỡ đê", "vo de"),
        ("Cầu Ngang", "cau ngang"),
        ("Đình Khao", "dinh khao"),
        ("bưởi Năm Roi", "buoi nam roi"),
    ],
)
def test_search_without_diacritics_finds_the_same(world, accented, plain):
    client = app_client(world, "canbo")
    with_marks = found(world, client.get("/search", params={"q": accented}).text)
    without = found(world, client.get("/search", params={"q": plain}).text)
    assert with_marks and with_marks == without


def test_search_ranks_and_combines_with_filters(world):
    client = app_client(world, "canbo")

    def got(**params):
        return found(world, client.get("/search", params=params).text)

    assert got(q="vỡ đê") == {"rumour", "rumour_copy", "denial"}
    assert got(q="vỡ đê", channel="press_local") == {"denial"}
    assert got(q="vỡ đê", source="mientay24h") == {"rumour_copy"}
    assert got(q="vỡ đê", misleading="sai_lech") == {"rumour", "rumour_copy"}
    assert got(q="vỡ đê", flagged="1") == {"rumour", "rumour_copy"}
    assert got(q="Vĩnh Long", topic="chu_quyen_bien_dao") == {"sovereignty"}
    assert got(q="Vinh Long", channel="press_foreign") == {"foreign"}
    y = world.day - dt.timedelta(days=1)
    assert got(q="vỡ đê", date_from=str(world.day)) == set()
    assert got(q="vỡ đê", date_to=str(y)) == {"rumour", "rumour_copy", "denial"}
    assert got(q="cầu Đình Khao -Bến") == set()
    assert got(q='"Đình Khao" OR "Năm Roi"') == {"bridge_1", "bridge_2", "bridge_3", "ordinary"}
    # the rumour's title, which the denial does not carry, ranks it first
    assert in_order(world, client.get("/search", params={"q": "khẩn vỡ đê"}).text)[0] == "rumour"


def test_empty_query_lists_newest_with_filters(world):
    client = app_client(world, "canbo")
    html = client.get("/search").text
    assert len(in_order(world, html)) == ALL and f"{ALL} tin, mới nhất trước" in html
    assert in_order(world, html)[:2] == ["foreign", "xss"]  # 20:05, then 18:30
    html = client.get("/search", params={"channel": "press_local", "tone": "tich_cuc"}).text
    assert in_order(world, html) == ["ordinary", "bridge_1"]
    # reviewed or not, flagged or not: a dismissed item is still in the archive
    with world.factory() as s:
        record_decision(s, world.ids["xss"], user="canbo", action="dismiss")
        s.commit()
    assert "xss" in found(world, client.get("/search", params={"q": "Cầu Ngang"}).text)
    assert found(world, client.get("/search", params={"status": "bo_qua"}).text) == {"xss"}
    assert found(
        world, client.get("/search", params={"reviewed": "chua", "flagged": "1"}).text
    ) == {"rumour", "rumour_copy", "sovereignty", "foreign"}


def test_search_pages(world):
    world.settings.web.page_size = 5
    client = app_client(world, "canbo")
    one = in_order(world, client.get("/search", params={"q": "Vĩnh Long"}).text)
    two = in_order(world, client.get("/search", params={"q": "Vĩnh Long", "page": "2"}).text)
    assert len(one) == 5 and len(two) == 3 and not set(one) & set(two)  # 8 mention Vĩnh Long
    assert len(in_order(world, client.get("/search").text)) == 5
    assert len(in_order(world, client.get("/search?page=3").text)) == 1  # 11 items, 5 a page
    assert in_order(world, client.get("/search?page=9").text) == in_order(
        world, client.get("/search?page=3").text
    )


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE items; --",
        "%",
        "_",
        '"',
        "\\",
        "' OR '1'='1",
        "%' OR 1=1 --",
        "*",
        'title:"x" NEAR(a b)',
        "\x00",
        "-",
        "OR",
        "\"'; DELETE FROM decisions; --",
    ],
)
def test_sql_metacharacters_are_harmless(db_url, tmp_path, query):
    world = make_world(db_url, tmp_path / "data")
    client = app_client(world, "canbo")
    r = client.get("/search", params={"q": query})
    assert r.status_code == 200
    # nothing searchable, or nothing that matches: never "everything"
    assert found(world, r.text) == set()
    for export in ("/search/export.csv", "/search/export.xlsx"):
        assert client.get(export, params={"q": query}).status_code == 200
    with world.factory() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == ALL
    # and the search still works afterwards
    assert "rumour" in found(world, client.get("/search", params={"q": "vỡ đê"}).text)


def test_items_table_intact_after_injection_attempt(world):
    client = app_client(world, "canbo")
    client.get("/search", params={"q": "x'); DROP TABLE items; --", "source": "'; --"})
    with world.factory() as s:
        assert s.execute(text("SELECT count(*) FROM items")).scalar() == ALL
        assert s.execute(text("SELECT count(*) FROM items_fts")).scalar() == ALL


def test_highlight_escapes_then_marks():
    out = highlight('Tin «nóng» <script>alert("x")</script> «unclosed')
    assert str(out) == (
        "Tin <mark>nóng</mark> &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; "
        "<mark>unclosed</mark>"
    )
    assert str(highlight("» lạc «")) == " lạc <mark></mark>"


# ── export ───────────────────────────────────────────────────────────────────────────────────


def test_csv_export(world):
    client = app_client(world, "canbo")
    with world.factory() as s:
        record_decision(
            s,
            world.ids["rumour"],
            user="canbo",
            action="confirm",
            changes={
                "assignee": "canbo2",
                "status": "dang_xu_ly",
                "handling": "Đề nghị Báo Vĩnh Long đăng tin cải chính",
            },
        )
        s.commit()
    r = client.get("/search/export.csv", params={"q": "vỡ đê"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    today = dt.datetime.now(VN).date().isoformat()
    assert r.headers["content-disposition"] == (
        f'attachment; filename="diemtin-tim-kiem-{today}.csv"'
    )
    header, *body = csv_rows(r.content)
    assert tuple(header) == HEADERS
    by_id = {int(line[0]): dict(zip(HEADERS, line, strict=True)) for line in body}
    assert set(by_id) == {world.ids[n] for n in ("rumour", "rumour_copy", "denial")}
    rumour = by_id[world.ids["rumour"]]
    y = world.day - dt.timedelta(days=1)
    assert rumour == {
        "id": str(world.ids["rumour"]),
        "thời gian": f"{y.isoformat()} 09:10",
        "nguồn": "Tin Nóng Miền Tây (Telegram, mẫu)",
        "kênh": "Mạng xã hội",
        "tiêu đề": "⚡️ KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG (TRÀ VINH CŨ)!",
        "đường dẫn": "https://tinnongmientay.example.vn/bai-2.html",
        "chủ đề": "Tai nạn, thiên tai",
        "sắc thái": "Tiêu cực",
        "mức nhạy cảm": "Nhạy cảm",
        "sai lệch": "Sai lệch",
        "trạng thái": "Đang xử lý",
        "người được giao": "canbo2",
        "đề xuất xử lý": "Đề nghị Báo Vĩnh Long đăng tin cải chính",
    }
    denial = by_id[world.ids["denial"]]
    assert denial["trạng thái"] == "Chưa xử lý" and denial["kênh"] == "Báo chí địa phương"
    assert denial["chủ đề"] == "Tai nạn, thiên tai; Chỉ đạo, điều hành"


def test_xlsx_export(world):
    client = app_client(world, "canbo")
    r = client.get("/search/export.xlsx", params={"sensitivity": "can_chu_y"})
    assert r.status_code == 200
    assert r.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["Kết quả"]
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0] == HEADERS
    by_id = {line[0]: line for line in lines[1:]}
    assert set(by_id) == {world.ids["foreign"], world.ids["xss"]}
    foreign = by_id[world.ids["foreign"]]
    y = world.day - dt.timedelta(days=1)
    assert foreign[1] == dt.datetime.combine(y, dt.time(20, 5))  # local time, a real date
    assert foreign[2:6] == (
        "The Mekong Observer (demo)",
        "Báo chí nước ngoài",
        "Vinh Long farmers protest land compensation for coastal wind farm",
        "https://mekongobserver.example.vn/bai-5.html",
    )
    assert foreign[6:11] == (
        "Đất đai, khiếu kiện; Đầu tư, kinh tế",
        "Tiêu cực",
        "Cần chú ý",
        "Không",
        "Chưa xử lý",
    )
    notes = dict(book["Ghi chú"].iter_rows(values_only=True))
    assert notes["Số dòng"] == "2" and "sensitivity=can_chu_y" in notes["Bộ lọc"]


def test_export_guards_against_formulas(world):
    add_post(
        world,
        "formula",
        '=HYPERLINK("http://evil.example","Bấm vào đây")',
        "Bài đăng trên diễn đàn về Vĩnh Long kèm công thức",
        handling="+cmd|' /C calc'!A0",
    )
    add_post(
        world,
        "at_sign",
        "@SUM(1+1) tin đồn ở Vĩnh Long",
        "Nội dung -2+3 về Vĩnh Long",
        handling="-1+1",
    )
    client = app_client(world, "canbo")
    params = {"source": "diendan", "sensitivity": "can_chu_y"}
    header, *body = csv_rows(client.get("/search/export.csv", params=params).content)
    by_id = {int(line[0]): dict(zip(HEADERS, line, strict=True)) for line in body}
    assert set(by_id) == {world.ids["formula"], world.ids["at_sign"]}
    f = by_id[world.ids["formula"]]
    assert f["tiêu đề"] == '\'=HYPERLINK("http://evil.example","Bấm vào đây")'
    assert f["đề xuất xử lý"] == "'+cmd|' /C calc'!A0"
    assert by_id[world.ids["at_sign"]]["tiêu đề"] == "'@SUM(1+1) tin đồn ở Vĩnh Long"
    assert by_id[world.ids["at_sign"]]["đề xuất xử lý"] == "'-1+1"

    book = load_workbook(io.BytesIO(client.get("/search/export.xlsx", params=params).content))
    cells = {row[0].value: row for row in book["Kết quả"].iter_rows(min_row=2)}
    title = cells[world.ids["formula"]][4]
    assert title.data_type == "s" and title.value.startswith("'=HYPERLINK")
    assert all(c.data_type != "f" for row in cells.values() for c in row)
    assert guard_cell("bình thường") == "bình thường" and guard_cell(5) == 5


def test_export_follows_the_filters(world):
    client = app_client(world, "canbo")

    def ids(**params):
        body = csv_rows(client.get("/search/export.csv", params=params).content)[1:]
        return {int(line[0]) for line in body}

    w = world.ids
    assert len(ids()) == ALL
    assert ids(channel="press_foreign") == {w["foreign"]}
    assert ids(q="vỡ đê", source="baovinhlong") == {w["denial"]}
    assert ids(flagged="1", reviewed="chua") == {
        w[n] for n in ("rumour", "rumour_copy", "sovereignty", "foreign", "xss")
    }
    with world.factory() as s:
        record_decision(s, w["foreign"], user="canbo", action="dismiss")
        record_decision(s, w["sovereignty"], user="canbo", changes={"assignee": "canbo"})
        s.commit()
    assert ids(status="bo_qua") == {w["foreign"]}
    assert ids(assignee="toi") == {w["sovereignty"]}
    assert ids(flagged="1", reviewed="chua") == {
        w[n] for n in ("rumour", "rumour_copy", "sovereignty", "xss")
    }


def test_export_is_capped_and_says_so(world, monkeypatch):
    monkeypatch.setattr(review.search, "EXPORT_CAP", 3)
    client = app_client(world, "canbo")
    r = client.get("/search/export.csv")
    assert len(csv_rows(r.content)) == 1 + 3 and r.headers["x-export-truncated"] == "1"
    r = client.get("/search/export.xlsx", params={"q": "Vĩnh Long"})
    book = load_workbook(io.BytesIO(r.content))
    assert book["Kết quả"].max_row == 1 + 3
    assert "chỉ gồm 3 dòng đầu" in dict(book["Ghi chú"].iter_rows(values_only=True))["Lưu ý"]
    assert "tối đa 3 dòng" in client.get("/search").text
    r = client.get("/search/export.csv", params={"channel": "press_foreign"})
    assert r.headers["x-export-truncated"] == "0"

"""The queue, its filters and saved filters, bulk assign/dismiss and the story page, on a real
store through the real app (forms posted with the CSRF token of the page they are on)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from reviewkit import add_item, app_client, at, form_post, make_world
from sqlalchemy import func, select

from review.decisions import record_decision
from review.filters import QueueFilter
from store.models import AuditLog, Decision, Item, SavedFilter

FLAGGED = ["rumour", "sovereignty", "foreign", "xss"]  # the default queue, worst first


@pytest.fixture
def world(sqlite_url, tmp_path):
    return make_world(sqlite_url, tmp_path / "data")


def rows(html: str) -> list[int]:
    """Item ids of the queue's rows (their title links), in page order."""
    return [int(i) for i in re.findall(r'<a class="title" href="/items/(\d+)"', html)]


def names(world, html: str) -> list[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return [by_id[i] for i in rows(html)]


def boxes(html: str) -> dict[int, str]:
    """Representative item id → its checkbox value (every copy of the story)."""
    out = {}
    for value in re.findall(r'name="item_ids" value="([^"]+)"', html):
        out[int(value.split(",")[0])] = value
    return out


def counts(html: str) -> dict[str, int]:
    found = re.findall(r'class="badge status-[a-z_]+"[^>]*>([^:<]+): <strong>(\d+)<', html)
    return {label: int(n) for label, n in found}


def decisions_of(world, item_id: int) -> list[Decision]:
    with world.factory() as s:
        return list(
            s.scalars(select(Decision).where(Decision.item_id == item_id).order_by(Decision.id))
        )


# ── order and grouping ───────────────────────────────────────────────────────────────────────


def test_queue_is_worst_first_one_row_per_story(db_url, tmp_path):
    world = make_world(db_url, tmp_path / "data")
    html = app_client(world, "canbo").get("/queue").text
    assert names(world, html) == FLAGGED
    # ordinary news, the other province and the denial are not flagged; the rumour's copy is
    # folded into its story's row, which links to the story and ticks both copies.
    story = world.stories["rumour"]
    assert f'<a class="small" href="/stories/{story}">và 1 bản khác</a>' in html
    ids = world.ids
    assert boxes(html)[ids["rumour"]] == f"{ids['rumour']},{ids['rumour_copy']}"
    assert boxes(html)[ids["sovereignty"]] == str(ids["sovereignty"])
    assert "4 câu chuyện (5 tin)" in html
    # badges in Vietnamese, local time, the scraped title escaped
    assert '<span class="badge nhay_cam">Nhạy cảm</span>' in html
    assert '<span class="badge sai_lech">Sai lệch</span>' in html
    assert "Chủ quyền biển, đảo" in html and "Tai nạn, thiên tai" in html
    assert f">09:10 {(world.day - dt.timedelta(days=1)):%d/%m/%Y}</time>" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_representative_follows_the_filter(world):
    client = app_client(world, "canbo")
    html = client.get("/queue?source=mientay24h").text
    # only the copy on mientay24h matches, so it stands for the story
    assert names(world, html) == ["rumour_copy", "xss"]


def test_a_story_outranks_by_its_newest_copy(world):
    client = app_client(world, "canbo")
    html = client.get("/queue?flagged=0&sensitivity=binh_thuong&tone=tich_cuc").text
    # the bridge story (3 copies, the last at 10:45) is older than the Trà Ôn news (15:00)
    assert names(world, html) == ["ordinary", "bridge_1"]
    assert "và 2 bản khác" in html


# ── filters ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("topic=chu_quyen_bien_dao", ["sovereignty"]),
        ("topic=tai_nan_thien_tai", ["rumour"]),
        ("topic=dat_dai_khieu_kien", ["foreign"]),
        ("tone=tieu_cuc", FLAGGED),
        ("tone=tich_cuc", []),
        ("sensitivity=can_chu_y", ["foreign", "xss"]),
        ("sensitivity=nhay_cam", ["rumour", "sovereignty"]),
        ("misleading=sai_lech", ["rumour"]),
        ("misleading=chua_kiem_chung", ["sovereignty"]),
        ("misleading=khong", ["foreign", "xss"]),
        ("channel=press_foreign", ["foreign"]),
        ("channel=social", ["rumour", "sovereignty", "xss"]),
        ("channel=press_local", []),
        ("source=diendan", ["sovereignty"]),
        ("status=chua_xu_ly", FLAGGED),
        ("status=moi", []),
        ("assignee=toi", []),
        ("flagged=0&channel=press_central", ["other_province", "bridge_2"]),
        ("flagged=0&topic=dau_tu_kinh_te&source=baovinhlong", ["bridge_1"]),
        # invalid values are dropped, never an error
        (
            "topic=khong_co&tone=%3Cscript%3E&source=khong-co-nguon&date_from=2025-13-45"
            "&reviewed=xyz&flagged=co-le&page=-3&status=%27%3B--&date_to=9999-12-31",
            FLAGGED,
        ),
    ],
)
def test_each_filter(world, query, expected):
    r = app_client(world, "canbo").get(f"/queue?{query}")
    assert r.status_code == 200
    assert names(world, r.text) == expected


def test_date_filter_uses_local_days(world):
    y = world.day - dt.timedelta(days=1)
    # 00:30 in Vietnam is 17:30 UTC the day before: it belongs to the local day
    early = add_item(
        world,
        "early",
        "diendan",
        "Tin đồn sạt lở bờ sông Cổ Chiên lúc nửa đêm",
        at(world.day, "00:30"),
        tone="tieu_cuc",
        sensitivity="can_chu_y",
    )
    client = app_client(world, "canbo")

    def ids(query):
        return rows(client.get(f"/queue?{query}").text)

    assert ids(f"date_from={world.day}") == [early]
    assert early not in ids(f"date_to={y}")
    assert len(ids(f"date_from={y}&date_to={y}")) == 4
    assert ids(f"date_to={y - dt.timedelta(days=1)}") == []
    # an item without a publication date is filed under its fetch time
    with world.factory() as s:
        s.get(Item, early).published_at = None
        s.get(Item, early).fetched_at = at(y, "23:00")
        s.commit()
    assert ids(f"date_from={world.day}") == []
    assert early in ids(f"date_from={y}&date_to={y}")


def test_filter_round_trips_through_its_query_string():
    f = QueueFilter.parse(
        {
            "topic": "iuu",
            "assignee": "CanBo2",
            "date_from": "2025-11-20",
            "flagged": "0",
            "q": "  vỡ đê  ",
            "junk": "x",
            "source": "a" * 500,
        },
    )
    assert f.assignee == "canbo2" and f.source is None and f.q == "vỡ đê" and not f.flagged
    again = QueueFilter.parse(f.to_query())
    assert again == f
    assert QueueFilter.parse("reviewed=da", reviewed="tat_ca").reviewed == "da"
    assert QueueFilter.parse("", reviewed="tat_ca", flagged=False) == QueueFilter(
        reviewed="tat_ca", flagged=False
    )
    assert QueueFilter.parse({"source": "diendan"}, sources=["baovinhlong"]).source is None
    # dates that would overflow once turned into UTC times are dropped like any bad value
    assert QueueFilter.parse("date_from=0001-01-01&date_to=9999-12-31") == QueueFilter()


# ── decisions in force ───────────────────────────────────────────────────────────────────────


def test_decision_in_force_overrides_labels_and_sets_status(db_url, tmp_path):
    world = make_world(db_url, tmp_path / "data")
    ids = world.ids
    with world.factory() as s:
        record_decision(
            s,
            ids["rumour"],
            user="canbo",
            action="confirm",
            changes={"status": "dang_xu_ly", "handling": "Đề nghị cải chính"},
        )
        record_decision(s, ids["sovereignty"], user="canbo", changes={"status": "da_xu_ly"})
        record_decision(s, ids["foreign"], user="lanhdao", changes={"assignee": "canbo"})
        # a correction raises the xss item to sensitive and re-topics it; a later one
        # (append-only: the newest is in force) puts its sensitivity back
        record_decision(
            s,
            ids["xss"],
            user="canbo",
            action="correct",
            changes={"sensitivity": "nhay_cam", "topics": ["chu_quyen_bien_dao"]},
        )
        s.commit()
    client = app_client(world, "canbo")

    def got(query):
        return names(world, client.get(f"/queue?{query}").text)

    # confirmed and handled items leave the default queue; the rumour's copy stays (no
    # decision), assigned-only items stay
    assert got("") == ["rumour_copy", "foreign"]
    assert counts(client.get("/queue").text) == {
        "Chưa xử lý": 1,
        "Mới": 2,
        "Đang xử lý": 1,
        "Đã xử lý": 1,
        "Bỏ qua": 0,
    }
    assert got("status=dang_xu_ly&reviewed=tat_ca") == ["rumour"]
    assert got("status=da_xu_ly&reviewed=tat_ca") == ["sovereignty"]
    assert got("reviewed=da") == ["rumour", "sovereignty", "xss"]
    assert got("assignee=toi") == ["foreign"]
    assert got("assignee=canbo") == ["foreign"]
    assert got("sensitivity=nhay_cam&reviewed=tat_ca") == ["rumour", "sovereignty", "xss"]
    assert got("topic=chu_quyen_bien_dao&reviewed=tat_ca") == ["sovereignty", "xss"]
    assert got("topic=an_ninh_trat_tu&reviewed=tat_ca") == []
    with world.factory() as s:
        record_decision(
            s, ids["xss"], user="canbo2", action="correct", changes={"sensitivity": "can_chu_y"}
        )
        s.commit()
    assert got("sensitivity=nhay_cam&reviewed=tat_ca") == ["rumour", "sovereignty"]
    assert got("sensitivity=can_chu_y&reviewed=tat_ca") == ["foreign", "xss"]


# ── bulk actions ─────────────────────────────────────────────────────────────────────────────


def test_bulk_assign_then_dismiss(db_url, tmp_path):
    world = make_world(db_url, tmp_path / "data")
    ids = world.ids
    client = app_client(world, "canbo")
    page = "/queue?misleading=&tone=tieu_cuc"
    ticks = boxes(client.get(page).text)
    r = form_post(
        client,
        page,
        "/queue/bulk",
        {
            "action": "assign",
            "assignee": "canbo2",
            "item_ids": [ticks[ids["rumour"]], ticks[ids["sovereignty"]]],
            "back": "tone=tieu_cuc&reviewed=chua&flagged=1",
        },
    )
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == "/queue"
    assert parse_qs(target.query) == {
        "tone": ["tieu_cuc"],
        "reviewed": ["chua"],
        "flagged": ["1"],
        "msg": ["assigned"],
        "n": ["3"],
    }
    landed = client.get(r.headers["location"]).text
    assert "Đã giao việc 3 tin." in landed
    for name in ("rumour", "rumour_copy", "sovereignty"):
        (dec,) = decisions_of(world, ids[name])
        assert (dec.user, dec.assignee, dec.action, dec.status) == ("canbo", "canbo2", "note", None)
    with world.factory() as s:
        audit = list(s.scalars(select(AuditLog).where(AuditLog.action == "decision.update")))
    assert sorted(int(a.object_id) for a in audit) == sorted(
        ids[n] for n in ("rumour", "rumour_copy", "sovereignty")
    )
    assert {(a.user, a.address, a.after["assignee"]) for a in audit} == {
        ("canbo", "testclient", "canbo2")
    }
    # assigned is not reviewed: still queued, now under canbo2 (who sees them as "mine")
    assert names(world, landed) == FLAGGED
    assert ">canbo2</td>" in landed
    other = app_client(world, "canbo2")
    assert names(world, other.get("/queue?assignee=toi").text) == ["rumour", "sovereignty"]

    r = form_post(
        client,
        "/queue",
        "/queue/bulk",
        {
            "action": "dismiss",
            "note": "Tin đã được cải chính, không cần xử lý",
            "item_ids": [str(ids["xss"]), f"{ids['foreign']}"],
            "back": "reviewed=chua&flagged=1",
        },
    )
    assert parse_qs(urlsplit(r.headers["location"]).query)["n"] == ["2"]
    landed = client.get(r.headers["location"]).text
    assert "Đã bác bỏ cảnh báo 2 tin" in landed
    assert names(world, landed) == ["rumour", "sovereignty"]
    (dec,) = decisions_of(world, ids["xss"])
    assert (dec.action, dec.status, dec.sensitivity, dec.misleading) == (
        "dismiss",
        "bo_qua",
        "binh_thuong",
        "khong",
    )
    assert dec.note == "Tin đã được cải chính, không cần xử lý"
    # dismissed: no longer flagged at all, counted as set aside
    assert names(world, client.get("/queue?reviewed=tat_ca").text) == ["rumour", "sovereignty"]
    assert names(world, client.get("/queue?flagged=0&status=bo_qua&reviewed=tat_ca").text) == [
        "foreign",
        "xss",
    ]
    assert counts(landed)["Bỏ qua"] == 0  # counted among flagged items only, which they left
    assert counts(client.get("/queue?flagged=0").text)["Bỏ qua"] == 2
    with world.factory() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "decision.dismiss")
            )
            == 2
        )


def test_bulk_refuses_bad_requests_without_writing(world):
    client = app_client(world, "canbo")
    rumour = str(world.ids["rumour"])
    cases = [
        (
            {"action": "assign", "item_ids": rumour, "assignee": ""},
            "no_assignee",
            "Hãy chọn cán bộ để giao việc.",
        ),
        (
            {"action": "assign", "item_ids": rumour, "assignee": "khong-ai"},
            "bad_assignee",
            "Không có cán bộ này",
        ),
        ({"action": "dismiss"}, "none_selected", "Chưa chọn tin nào."),
        ({"action": "xoa", "item_ids": rumour}, "bad_action", "Thao tác không hợp lệ."),
        ({"action": "dismiss", "item_ids": "abc,-4,999999"}, "dismissed", "Không có tin nào"),
    ]
    for data, code, text in cases:
        r = form_post(client, "/queue", "/queue/bulk", {**data, "back": "topic=iuu"})
        assert r.status_code == 303
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["msg"] == [code] and query["topic"] == ["iuu"]
        assert text in client.get(r.headers["location"]).text
    # a post without the form's CSRF token is refused
    r = client.post("/queue/bulk", data={"action": "dismiss", "item_ids": rumour})
    assert r.status_code == 403
    with world.factory() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 0


def test_bulk_from_the_story_page_returns_there(world):
    client = app_client(world, "canbo")
    story = world.stories["rumour"]
    page = f"/stories/{story}"
    ids = re.search(r'name="item_ids" value="([^"]+)"', client.get(page).text).group(1)
    r = form_post(
        client,
        page,
        "/queue/bulk",
        {"action": "assign", "assignee": "canbo2", "item_ids": ids, "story": str(story)},
    )
    assert r.headers["location"].startswith(f"/stories/{story}?")
    assert "Đã giao việc 2 tin." in client.get(r.headers["location"]).text


# ── saved filters ────────────────────────────────────────────────────────────────────────────


def test_saved_filters_are_per_user(world):
    canbo, canbo2 = app_client(world, "canbo"), app_client(world, "canbo2")
    r = form_post(
        canbo,
        "/queue",
        "/queue/filters",
        {
            "name": "  Thiên tai:   tin đồn ",
            "query": "topic=tai_nan_thien_tai&misleading=sai_lech&junk=1&source=%3Cscript%3E",
        },
    )
    assert r.status_code == 303
    with world.factory() as s:
        (saved,) = s.scalars(select(SavedFilter))
    assert saved.name == "Thiên tai: tin đồn"
    assert QueueFilter.parse(saved.query) == QueueFilter(
        topic="tai_nan_thien_tai", misleading="sai_lech"
    )
    html = canbo.get(r.headers["location"]).text
    assert "Đã lưu bộ lọc." in html
    link = re.search(r'<a href="/queue\?([^"]+)">Thiên tai: tin đồn</a>', html)
    assert link
    assert names(world, canbo.get("/queue?" + unescape(link.group(1))).text) == ["rumour"]
    assert "Thiên tai: tin đồn" not in canbo2.get("/queue").text
    # saving under the same name replaces it
    form_post(
        canbo, "/queue", "/queue/filters", {"name": "Thiên tai: tin đồn", "query": "channel=social"}
    )
    with world.factory() as s:
        (saved,) = s.scalars(select(SavedFilter))
    assert QueueFilter.parse(saved.query).channel == "social"
    # a name is required; nobody deletes someone else's filter
    r = form_post(canbo, "/queue", "/queue/filters", {"name": "   ", "query": ""})
    assert "msg=bad_name" in r.headers["location"]
    r = form_post(canbo2, "/queue", f"/queue/filters/{saved.id}/delete", {})
    assert r.status_code == 404
    r = form_post(canbo, "/queue", f"/queue/filters/{saved.id}/delete", {})
    assert r.status_code == 303
    with world.factory() as s:
        assert s.scalar(select(func.count()).select_from(SavedFilter)) == 0


# ── story page, pages ────────────────────────────────────────────────────────────────────────


def test_story_page_shows_copies_spread_and_history(world):
    ids = world.ids
    with world.factory() as s:
        record_decision(
            s,
            ids["rumour_copy"],
            user="canbo2",
            action="dismiss",
            changes={"note": "Bản chia sẻ lại, đã có bản gốc"},
        )
        s.commit()
    client = app_client(world, "canbo")
    html = client.get(f"/stories/{world.stories['rumour']}").text
    first = html.index(f'href="/items/{ids["rumour"]}"')
    second = html.index(f'href="/items/{ids["rumour_copy"]}"')
    assert first < second
    assert "2 bản trên 2 nguồn" in html
    assert "bản đầu tiên" in html and "sau 2 giờ 30 phút" in html
    assert "Tin Nóng Miền Tây (Telegram, mẫu)" in html and "Miền Tây 24h (YouTube, mẫu)" in html
    assert "Bác bỏ cảnh báo" in html and "Bản chia sẻ lại, đã có bản gốc" in html
    assert ">canbo2</td>" in html
    assert client.get("/stories/99999").status_code == 404
    assert client.get("/stories/abc").status_code == 404


def test_pages(world):
    world.settings.web.page_size = 5
    client = app_client(world, "canbo")
    one = client.get("/queue?flagged=0").text
    two = client.get("/queue?flagged=0&page=2").text
    assert len(rows(one)) == 5 and len(rows(two)) == 3  # 11 items, 8 stories
    assert not set(rows(one)) & set(rows(two))
    assert "Trang 1/2" in one and 'href="/queue?reviewed=chua&amp;flagged=0&amp;page=2"' in one
    assert rows(client.get("/queue?flagged=0&page=99").text) == rows(two)


def test_queue_needs_sign_in(world):
    r = app_client(world).get("/queue?topic=iuu", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")

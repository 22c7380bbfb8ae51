"""The JSON API (review/api.py): bearer tokens only, content over make_world, decisions through
the API landing in the decision log and the audit log, and bad input answered 4xx, never 5xx."""

from __future__ import annotations

import datetime as dt

import pytest
from reviewkit import PASSWORDS, XSS_TITLE, app_client, make_world
from sqlalchemy import func, select

from store.accounts import find_user, new_token, revoke_token, set_active
from store.models import AuditLog, Decision, Item, WebSession


@pytest.fixture
def world(db_url, tmp_path):
    """The demo day on SQLite and (with DIEMTIN_TEST_PG_URL) PostgreSQL: NUL bytes, ids beyond
    `integer` and odd dates fail differently on each."""
    return make_world(db_url, tmp_path)


def token_for(world, username: str = "canbo", name: str = "Hệ thống một cửa") -> str:
    with world.factory() as session:
        secret, _ = new_token(session, find_user(session, username), name)
        session.commit()
    return secret


@pytest.fixture
def api(world):
    """A client with canbo's token on every request."""
    client = app_client(world)
    client.headers["Authorization"] = f"Bearer {token_for(world)}"
    return client


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


# ── who may call ─────────────────────────────────────────────────────────────────────────────

ENDPOINTS = [
    ("get", "/api/items"),
    ("get", "/api/items/1"),
    ("get", "/api/stories"),
    ("get", "/api/stories/1"),
    ("get", "/api/decisions"),
    ("post", "/api/items/1/decisions"),
]


def assert_401(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/json")
    assert "mã truy cập" in response.json()["detail"].lower()


def test_every_endpoint_refuses_a_caller_without_a_valid_token(world):
    good = token_for(world)
    with world.factory() as session:
        user = find_user(session, "canbo2")
        revoked, row = new_token(session, user, "cũ")
        assert revoke_token(session, user, row.id)
        session.commit()
    disabled = token_for(world, "lanhdao")
    with world.factory() as session:
        set_active(session, "lanhdao", False, by="quantri")
        session.commit()
    client = app_client(world)
    for method, path in ENDPOINTS:
        body = {"json": {"action": "dismiss"}} if method == "post" else {}
        for headers in (
            {},
            {"Authorization": "Bearer "},
            {"Authorization": "Bearer dtk_khong-phai-ma-that"},
            {"Authorization": f"Basic {good}"},
            {"Authorization": f"Bearer {good}x"},
            {"Authorization": f"Bearer {revoked}"},
            {"Authorization": f"Bearer {disabled}"},
        ):
            assert_401(getattr(client, method)(path, headers=headers, **body))
        # The same request with the good token goes through (the 401s were about the token).
        ok = getattr(client, method)(path, headers={"Authorization": f"Bearer {good}"}, **body)
        assert ok.status_code in (200, 201), (path, ok.text)
    with world.factory() as session:
        users = set(session.scalars(select(Decision.user)))
    assert users <= {"canbo"}


def test_the_session_cookie_does_not_open_the_api(world):
    client = app_client(world, "canbo")
    with world.factory() as session:  # the signed-in session's real CSRF token
        csrf = session.scalar(
            select(WebSession.csrf).where(WebSession.user_id == find_user(session, "canbo").id)
        )
    assert csrf
    rumour = world.ids["rumour"]
    assert_401(client.get("/api/items"))
    assert_401(client.get(f"/api/items/{rumour}"))
    # Not even a POST carrying the cookie (without, or even with, the session's CSRF token).
    assert_401(client.post(f"/api/items/{rumour}/decisions", json={"action": "dismiss"}))
    assert_401(
        client.post(
            f"/api/items/{rumour}/decisions",
            json={"action": "dismiss"},
            headers={"X-CSRF-Token": csrf},
        )
    )
    with world.factory() as session:
        assert session.scalar(select(func.count(Decision.id))) == 0


# ── reading ──────────────────────────────────────────────────────────────────────────────────


def test_items_list_newest_first_with_effective_and_raw_labels(world, api):
    r = api.get("/api/items")
    data = r.json()
    assert data["total"] == len(world.ids) == len(data["items"])
    assert data["next_offset"] is None
    times = [i["published_at"] for i in data["items"]]
    assert times == sorted(times, reverse=True)
    rumour = next(i for i in data["items"] if i["id"] == world.ids["rumour"])
    assert rumour["source"] == "tinnongmientay"
    assert rumour["kind"] == "social"
    assert rumour["story_id"] == world.stories["rumour"]
    assert rumour["labels"]["misleading"] == "sai_lech"
    assert rumour["labels"]["sensitivity"] == "nhay_cam"
    assert rumour["labels"]["topics"] == ["tai_nan_thien_tai"]
    assert rumour["labels"]["misleading_score"] == pytest.approx(0.86)
    assert {p["name"] for p in rumour["labels"]["places"]} == {"Cầu Ngang", "Vĩnh Long"}
    assert rumour["classification"]["topics"] == {"tai_nan_thien_tai": 0.93}
    assert rumour["decision"] is None
    xss = next(i for i in data["items"] if i["id"] == world.ids["xss"])
    assert xss["title"] == XSS_TITLE  # JSON carries the text as it is; escaping is the reader's
    assert r.headers["content-type"].startswith("application/json")


def test_items_filters(world, api):
    ids = world.ids

    def got(query: str) -> set[int]:
        return set(ids_of(api.get("/api/items?" + query)))

    assert got("misleading=sai_lech") == {ids["rumour"], ids["rumour_copy"]}
    assert got("sensitivity=nhay_cam") == {ids["rumour"], ids["rumour_copy"], ids["sovereignty"]}
    assert got("relevant=false") == {ids["other_province"]}
    assert ids["other_province"] not in got("relevant=true")
    assert got("kind=press_foreign") == {ids["foreign"]}
    assert got("source=thoibao") == {ids["bridge_3"]}
    assert got("source=khong-co-nguon-nay") == set()
    assert got(f"story_id={world.stories['bridge']}") == {ids[f"bridge_{n}"] for n in (1, 2, 3)}
    assert got("topic=chu_quyen_bien_dao") == {ids["sovereignty"]}
    # 0.5 is at the threshold; nothing else has this topic at all
    assert got("topic=dat_dai_khieu_kien") == {ids["foreign"]}
    assert got("topic=iuu") == set()
    # the rumours were posted on the morning of the day before the digest day (09:10, 11:40)
    day_before = world.day - dt.timedelta(days=1)
    since = f"{day_before}T02:00:00Z"  # 09:00 in Vĩnh Long
    until = f"{day_before}T11:45:00%2B07:00"  # +07:00, escaped
    assert got(f"since={since}&until={until}&kind=social") == {ids["rumour"], ids["rumour_copy"]}
    # a naive time is UTC: 04:41 UTC is 11:41 in Vĩnh Long, after the copy (11:40)
    assert ids["rumour_copy"] not in got(f"since={day_before}T04:41:00&kind=social")
    assert ids["rumour_copy"] in got(f"since={day_before}T04:39:00&kind=social")
    assert got("until=2000-01-01") == set()
    # full text, combined with the other filters
    assert got("q=đê biển") >= {ids["rumour"], ids["rumour_copy"]}
    assert got("q=đê biển&kind=press_local") == {ids["denial"]}
    assert got("q=Đình Khao&source=tinnhanh") == {ids["bridge_2"]}
    assert got("q=bưởi Năm Roi&misleading=sai_lech") == set()


def test_items_pages_cover_everything_once(world, api):
    seen: list[int] = []
    offset = 0
    while offset is not None:
        page = api.get(f"/api/items?limit=4&offset={offset}").json()
        assert page["total"] == len(world.ids)
        assert len(page["items"]) <= 4
        seen += [i["id"] for i in page["items"]]
        offset = page["next_offset"]
    assert sorted(seen) == sorted(world.ids.values())
    assert ids_of(api.get("/api/items?offset=100")) == []
    # paging with a topic (filtered after the query) and with a search agree with the full list
    full = ids_of(api.get("/api/items?topic=dau_tu_kinh_te"))
    assert len(full) == 5
    halves = ids_of(api.get("/api/items?topic=dau_tu_kinh_te&limit=3")) + ids_of(
        api.get("/api/items?topic=dau_tu_kinh_te&limit=3&offset=3")
    )
    assert halves == full
    found = api.get("/api/items?q=Vĩnh Long&limit=2").json()
    assert found["total"] > 2 and len(found["items"]) == 2 and found["next_offset"] == 2


def test_item_detail_has_text_evidence_and_history(world, api):
    rumour = world.ids["rumour"]
    r = api.get(f"/api/items/{rumour}")
    assert r.status_code == 200, r.text
    data = r.json()
    assert "Nghe nói đê biển ở Cầu Ngang" in data["text"]
    ev = data["evidence"]
    assert ev["misleading_evidence"]["statement"]["item_id"] == world.ids["denial"]
    assert ev["misleading_evidence"]["similarity"] == pytest.approx(0.71)
    assert [h["phrase"] for h in ev["rules_fired"]] == ["nghe nói", "vỡ đê"]
    assert ev["sensitivity_reasons"] == ["Tin sai lệch về thiên tai lan trên mạng xã hội"]
    assert ev["tone_scores"]["tieu_cuc"] == pytest.approx(0.88)
    assert "Cầu Ngang" in ev["relevance_reasons"][0]
    assert data["decisions"] == []


@pytest.mark.parametrize("path", ["/api/items/{}", "/api/stories/{}"])
def test_unknown_ids_are_404_and_bad_ids_422(api, path):
    missing = api.get(path.format(99999))
    assert missing.status_code == 404
    assert "99999" in missing.json()["detail"]
    assert missing.headers["content-type"].startswith("application/json")
    for bad in ("0", "-1", "abc", "1.5", str(2**31), str(10**30)):
        r = api.get(path.format(bad))
        assert r.status_code == 422, (bad, r.text)
        assert isinstance(r.json()["detail"], list)


def test_stories(world, api):
    data = api.get("/api/stories").json()
    assert data["total"] == 2
    bridge = next(s for s in data["items"] if s["id"] == world.stories["bridge"])
    assert bridge["outlets"] == ["baovinhlong", "tinnhanh", "thoibao"]
    assert bridge["item_count"] == 3
    assert bridge["item_ids"] == [world.ids[f"bridge_{n}"] for n in (1, 2, 3)]
    assert [p["source"] for p in bridge["spread"]] == bridge["outlets"]
    one = api.get(f"/api/stories/{world.stories['rumour']}").json()
    assert one["title"].startswith("KHẨN: VỠ ĐÊ BIỂN")
    assert one["item_ids"] == [world.ids["rumour"], world.ids["rumour_copy"]]
    assert ids_of(api.get("/api/stories?since=2999-01-01T00:00:00Z")) == []
    assert ids_of(api.get("/api/stories?limit=1")) != ids_of(
        api.get("/api/stories?limit=1&offset=1")
    )


# ── writing decisions ────────────────────────────────────────────────────────────────────────


def test_post_decision_appends_and_shows_everywhere(world):
    client = app_client(world)
    client.headers["Authorization"] = f"Bearer {token_for(world, 'canbo')}"
    rumour = world.ids["rumour"]
    r = client.post(
        f"/api/items/{rumour}/decisions",
        json={
            "action": "confirm",
            "handling": "Đề nghị Công an tỉnh xác minh tài khoản đăng tin.",
            "status": "dang_xu_ly",
            "assignee": "canbo2",
            "topics": ["tai_nan_thien_tai", "an_ninh_trat_tu"],
        },
    )
    assert r.status_code == 201, r.text
    dec = r.json()
    assert dec["user"] == "canbo"
    assert dec["action"] == "confirm"
    assert dec["assignee"] == "canbo2"
    assert dec["topics"] == ["tai_nan_thien_tai", "an_ninh_trat_tu"]

    # The same again changes nothing and appends nothing.
    again = client.post(f"/api/items/{rumour}/decisions", json={"status": "dang_xu_ly"})
    assert again.status_code == 200 and again.json() == {"changed": False}

    # A second officer dismisses through the API: a new row, everything in force carried over.
    other = token_for(world, "canbo2")
    r2 = client.post(
        f"/api/items/{rumour}/decisions",
        json={"action": "dismiss", "note": "Đã có thông tin bác bỏ chính thức."},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert r2.status_code == 201, r2.text
    assert r2.json()["user"] == "canbo2"
    assert r2.json()["handling"].startswith("Đề nghị Công an tỉnh")
    assert r2.json()["sensitivity"] == "binh_thuong" and r2.json()["status"] == "bo_qua"

    log = client.get("/api/decisions").json()
    assert log["total"] == 2
    assert [d["user"] for d in log["items"]] == ["canbo2", "canbo"]  # newest first
    assert [d["id"] for d in client.get("/api/decisions?user=canbo").json()["items"]] == [dec["id"]]
    assert client.get(f"/api/decisions?item_id={world.ids['denial']}").json()["total"] == 0
    assert client.get("/api/decisions?since=2999-01-01").json()["total"] == 0

    detail = client.get(f"/api/items/{rumour}").json()
    assert [d["action"] for d in detail["decisions"]] == ["confirm", "dismiss"]
    assert detail["decision"]["id"] == r2.json()["id"]
    # labels in force follow the decision; the classifier's own stay as they were
    assert detail["labels"]["sensitivity"] == "binh_thuong"
    assert detail["labels"]["misleading"] == "khong"
    assert detail["labels"]["topics"] == ["tai_nan_thien_tai", "an_ninh_trat_tu"]
    assert detail["classification"]["sensitivity"] == "nhay_cam"
    flagged = set(ids_of(client.get("/api/items?sensitivity=nhay_cam")))
    assert rumour not in flagged and world.ids["rumour_copy"] in flagged
    assert rumour in ids_of(client.get("/api/items?topic=an_ninh_trat_tu"))
    assert rumour in ids_of(client.get("/api/items?status=bo_qua"))
    assert rumour not in ids_of(client.get("/api/items?status=moi"))

    with world.factory() as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.object_type == "item", AuditLog.object_id == str(rumour))
            .order_by(AuditLog.id)
        ).all()
    assert [(a.user, a.action) for a in rows] == [
        ("canbo", "decision.confirm"),
        ("canbo2", "decision.dismiss"),
    ]
    assert rows[0].before is None and rows[0].after["assignee"] == "canbo2"
    assert rows[1].before["status"] == "dang_xu_ly" and rows[1].after["status"] == "bo_qua"
    assert rows[1].address == "testclient"


def test_every_role_may_decide_and_null_clears_a_field(world, api):
    lead = token_for(world, "lanhdao")
    denial = world.ids["denial"]
    r = api.post(
        f"/api/items/{denial}/decisions",
        json={"tone": "tich_cuc"},
        headers={"Authorization": f"Bearer {lead}"},
    )
    assert r.status_code == 201 and r.json()["user"] == "lanhdao"
    assert r.json()["action"] == "note"  # no verdict yet
    assert api.get(f"/api/items/{denial}").json()["labels"]["tone"] == "tich_cuc"
    # clearing a field nobody set on an undecided item changes nothing
    nothing = api.post(f"/api/items/{world.ids['ordinary']}/decisions", json={"tone": None})
    assert nothing.status_code == 200 and nothing.json() == {"changed": False}
    assert api.get(f"/api/items/{world.ids['ordinary']}").json()["decisions"] == []
    cleared = api.post(f"/api/items/{denial}/decisions", json={"tone": None})
    assert cleared.status_code == 201 and cleared.json()["tone"] is None
    assert api.get(f"/api/items/{denial}").json()["labels"]["tone"] == "trung_lap"


BAD_BODIES = [
    {},
    {"action": "approve"},
    {"topics": ["khong_co_chu_de"]},
    {"tone": "gian_du"},
    {"sensitivity": "rat_cao"},
    {"status": "xong"},
    {"assignee": "khongco"},  # no such officer: DecisionError from review.decisions
    {"assignee": "'; DROP TABLE users; --"},
    {"note": "x" * 4001},
    {"note": "ghi chú\x00ẩn"},
    {"topics": "tai_nan_thien_tai"},
    {"relevant": "có lẽ"},
]


def test_bad_decisions_are_422_and_write_nothing(world, api):
    for body in BAD_BODIES:
        r = api.post(f"/api/items/{world.ids['rumour']}/decisions", json=body)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], list) and r.json()["detail"]
    with world.factory() as session:
        assert session.scalar(select(func.count(Decision.id))) == 0
        assert (
            session.scalar(select(func.count(AuditLog.id)).where(AuditLog.object_type == "item"))
            == 0
        )


def test_decision_on_a_missing_item_is_404(api):
    r = api.post("/api/items/99999/decisions", json={"action": "confirm"})
    assert r.status_code == 404 and "99999" in r.json()["detail"]
    assert api.post("/api/items/1/decisions", content=b"{not json").status_code == 422
    assert api.post(
        "/api/items/1/decisions", content=b"\xff\xfe", headers={"content-type": "application/json"}
    ).status_code in (400, 422)


# ── robustness ───────────────────────────────────────────────────────────────────────────────


BAD_QUERIES = [
    "limit=0",
    "limit=501",
    "limit=-5",
    "limit=abc",
    "offset=-1",
    f"offset={10**20}",
    "since=hôm-qua",
    "since=2026-13-45",
    "until=2026-02-30T25:00:00",
    "kind=blog",
    "sensitivity=cao",
    "misleading=co",
    "topic=bong_da",
    "status=xong",
    "relevant=có-lẽ",
    f"story_id={10**20}",
    "story_id=0",
    "source=%00",
    "source=a b",
    "q=" + "a" * 1001,
]


def test_bad_list_parameters_are_422(api):
    for query in BAD_QUERIES:
        r = api.get("/api/items?" + query)
        assert r.status_code == 422, (query, r.text)
        assert r.json()["detail"][0]["loc"][0] == "query"


ODD_QUERIES = [
    "since=9999-12-31T23:59:59-12:00",
    "until=0001-01-01T00:00:00%2B14:00",
    "since=2026-01-01",
    "q=" + "Vĩnh Long " * 100,
    "q=%27%3B%20DROP%20TABLE%20items%3B%20--",
    "q=%22%20OR%201%3D1%20--",
    "q=title%3A*%20NEAR(a%20b)%20%5E%20%28%28",
    "q=%00%01",
    "q=%25%5F",
]


def test_odd_but_valid_parameters_answer_200(world, api):
    for query in ODD_QUERIES:
        r = api.get("/api/items?" + query)
        assert r.status_code == 200, (query, r.text)
    with world.factory() as session:
        assert session.scalar(select(func.count(Item.id))) == len(world.ids)


def test_search_metacharacters_are_plain_text(world, api):
    assert ids_of(api.get("/api/items?q=' OR 1=1 --")) == []
    assert ids_of(api.get('/api/items?q="Đình Khao"; DROP TABLE items')) == []
    assert len(ids_of(api.get('/api/items?q="Đình Khao"'))) == 3
    assert ids_of(api.get("/api/items?q=%")) == []


def test_decisions_log_rejects_bad_filters(api):
    for query in ("user=%00", "item_id=0", f"item_id={2**31}", "since=bây-giờ", "limit=1000"):
        assert api.get("/api/decisions?" + query).status_code == 422, query


# ── the OpenAPI document ─────────────────────────────────────────────────────────────────────


def test_openapi_lists_the_api_with_bearer_auth_and_no_pages(world):
    client = app_client(world)
    r = client.get("/api/openapi.json")  # public, like any API description
    assert r.status_code == 200
    doc = r.json()
    assert set(doc["paths"]) == {
        "/api/items",
        "/api/items/{item_id}",
        "/api/items/{item_id}/decisions",
        "/api/stories",
        "/api/stories/{story_id}",
        "/api/decisions",
    }
    assert set(doc["paths"]["/api/items/{item_id}/decisions"]) == {"post"}
    schemes = doc["components"]["securitySchemes"]
    assert schemes == {
        "token": {
            "type": "http",
            "scheme": "bearer",
            "description": schemes["token"]["description"],
        }
    }
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert op["security"] == [{"token": []}], (method, path)
            assert "401" in op["responses"], (method, path)
    params = {p["name"]: p for p in doc["paths"]["/api/items"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 500
    assert "nhay_cam" in str(params["sensitivity"]["schema"])
    assert "chu_quyen_bien_dao" in str(params["topic"]["schema"])
    assert {"q", "since", "until", "kind", "source", "relevant", "misleading", "story_id"} <= set(
        params
    )
    # no HTML page of the app leaks into the document
    for page in ("/login", "/logout", "/queue", "/", "/healthz"):
        assert page not in doc["paths"]
    assert all(path.startswith("/api/") for path in doc["paths"])
    assert set(PASSWORDS) and "csrf" not in r.text.lower()

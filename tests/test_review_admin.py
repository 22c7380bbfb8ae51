"""The admin side of the review app: sources (health, pause that outlives a crawl's sync), users
admin, one's own account (password, API tokens) and the read-only audit log."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from reviewkit import PASSWORDS, app_client, csrf_of, form_post, make_world, sign_in
from sqlalchemy import select

from crawlers.run import select_sources, without_paused
from review.decisions import record_decision
from review.users import changes
from store.accounts import audit, find_user, user_for_token
from store.db import open_store
from store.models import AuditLog, CrawlRun, FetchLog, Source, utcnow
from store.profile import load_profile
from store.queries import paused_sources, switch_source, sync_sources

ADMIN_POSTS = [
    ("/sources/mientay24h/enabled", {"enabled": "0"}),
    (
        "/users",
        {
            "username": "kedotnhap",
            "display_name": "Kẻ đột nhập",
            "role": "admin",
            "password": "mật-khẩu-rất-dài-2026",
        },
    ),
    ("/users/canbo2/role", {"role": "admin"}),
    ("/users/canbo2/active", {"active": "0"}),
    ("/users/canbo2/password", {"password": "mật-khẩu-mới-của-kẻ-xấu"}),
]
NEW_USER = {
    "username": "vothimai",
    "display_name": "Võ Thị Mai",
    "role": "officer",
    "password": "Sông-Cổ-Chiên-2026",
}


@pytest.fixture
def world(sqlite_url, tmp_path):
    return make_world(sqlite_url, tmp_path)


def plain(html: str) -> str:
    """The page's text, tags dropped and spaces squeezed, to assert on what a reader sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rows_of(html: str) -> str:
    """The audit table's text (not the filter's option labels); empty without rows."""
    _, table, rows = html.partition('<table class="responsive audit">')
    return plain(rows) if table else ""


def audit_rows(world, **where) -> list[AuditLog]:
    with world.factory() as s:
        stmt = select(AuditLog).order_by(AuditLog.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditLog, name) == value)
        return list(s.scalars(stmt))


# ── roles ────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("username", ["canbo", "lanhdao"])
def test_officer_and_lead_are_refused_every_admin_page_and_action(world, username):
    client = app_client(world, username)
    assert client.get("/sources").status_code == 403
    assert client.get("/users").status_code == 403
    for action, data in ADMIN_POSTS:
        r = form_post(client, "/account", action, data)  # a valid CSRF token: only the role fails
        assert r.status_code == 403, action
        assert "không có quyền" in r.text
    with world.factory() as s:
        canbo2 = find_user(s, "canbo2")
        assert (canbo2.role, canbo2.active) == ("officer", True)
        assert find_user(s, "kedotnhap") is None
        assert paused_sources(s) == set()
    assert sign_in(app_client(world), "canbo2").status_code == 303  # password unchanged


def test_audit_log_is_for_leads_and_admins_only(world):
    assert app_client(world, "canbo").get("/audit").status_code == 403
    assert app_client(world, "lanhdao").get("/audit").status_code == 200
    assert app_client(world, "quantri").get("/audit").status_code == 200
    r = app_client(world).get("/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ── sources ──────────────────────────────────────────────────────────────────────────────────


def test_paused_source_survives_the_profiles_sync_and_the_crawl_skips_it(db_url, tmp_path):
    world = make_world(db_url, tmp_path)
    profile, _ = load_profile(world.profile_path)
    admin = app_client(world, "quantri")
    r = form_post(admin, "/sources", "/sources/mientay24h/enabled", {"enabled": "0"})
    assert r.status_code == 303 and r.headers["location"].startswith("/sources?done=off")
    page = admin.get(r.headers["location"])
    assert "Đã tạm dừng nguồn tin" in page.text
    row = re.search(r'<tr id="src-mientay24h".*?</tr>', page.text, re.S).group(0)
    assert "Tạm dừng</span>" in row and 'name="enabled" value="1"' in row

    [entry] = audit_rows(world, object_type="source")
    assert (entry.user, entry.action, entry.object_id) == (
        "quantri",
        "source.disable",
        "mientay24h",
    )
    assert (entry.before, entry.after) == ({"enabled": True}, {"enabled": False})

    with world.factory() as s:  # what every crawl does first
        sync_sources(s, "demo", profile.sources)
        s.commit()
    with world.factory() as s:
        assert s.scalar(select(Source.enabled).where(Source.name == "mientay24h"))  # profile's
        assert paused_sources(s) == {"mientay24h"}
        runs = [c.name for c in without_paused(s, select_sources(profile, None))]
    assert "mientay24h" not in runs and "baovinhlong" in runs
    assert "mientay24h" in [c.name for c in select_sources(profile, None)]

    r = form_post(admin, "/sources", "/sources/mientay24h/enabled", {"enabled": "1"})
    assert r.headers["location"].startswith("/sources?done=on")
    with world.factory() as s:
        sync_sources(s, "demo", profile.sources)
        assert "mientay24h" in [c.name for c in without_paused(s, select_sources(profile, None))]
    assert [a.action for a in audit_rows(world, object_type="source")] == [
        "source.disable",
        "source.enable",
    ]


def test_sources_list_says_which_sources_an_admin_paused(sqlite_url, tmp_path):
    from typer.testing import CliRunner

    from diemtin.cli import app

    world = make_world(sqlite_url, tmp_path)
    with world.factory() as s:
        switch_source(s, "tinnongmientay", False, by="quantri")
        s.commit()
    r = CliRunner().invoke(
        app,
        ["--database-url", sqlite_url, "sources", "list", "-p", str(world.profile_path)],
        env={"COLUMNS": "250"},
    )
    assert r.exit_code == 0, r.output
    lines = {line.split()[1]: line for line in r.output.splitlines() if line.count("│") > 3}
    assert "tạm dừng" in lines["tinnongmientay"]
    assert "tạm dừng" not in lines["baovinhlong"]


def test_a_real_crawl_skips_the_paused_source_unless_named(tmp_path):
    """`diemtin crawl` as cron runs it, against a real HTTP server: the paused outlet is not
    asked for anything; naming it on the command line still fetches it."""
    from test_crawl_http import Server, crawl, profile, rows

    server = Server()
    try:
        extra = f"""  - name: ban
    title: Báo Vĩnh Long điện tử
    kind: press_local
    type: feed
    urls: ["{server.base}/ban/rss.xml"]
    delay: 0
"""
        path = profile(tmp_path, server.base, extra)
        prof, _ = load_profile(path)
        factory = open_store(f"sqlite:///{tmp_path / 'var' / 'diemtin.db'}")
        with factory() as s:
            sync_sources(s, path.stem, prof.sources)
            switch_source(s, "dongkhoi", False, by="quantri")
            s.commit()
        factory.kw["bind"].dispose()

        result = crawl(tmp_path, path)
        assert result.returncode == 0, result.stderr
        assert server.hits["/rss.xml"] == 0 and server.hits["/ban/rss.xml"] >= 1
        assert rows(tmp_path, "select source_name from fetch_log") == [("ban",)]

        result = crawl(tmp_path, path, "--source", "dongkhoi")
        assert result.returncode == 0, result.stderr
        assert server.hits["/rss.xml"] == 1
    finally:
        server.close()


def test_switching_to_the_same_state_writes_nothing_and_unknown_source_is_404(world):
    admin = app_client(world, "quantri")
    r = form_post(admin, "/sources", "/sources/baovinhlong/enabled", {"enabled": "1"})
    assert r.headers["location"].startswith("/sources?done=same")
    assert (
        form_post(admin, "/sources", "/sources/khongco/enabled", {"enabled": "0"}).status_code
        == 404
    )
    assert audit_rows(world, object_type="source") == []


def test_sources_page_lists_failing_sources_first_with_health(world):
    now = utcnow()
    with world.factory() as s:
        run = CrawlRun(profile="demo", status="partial", started_at=now - dt.timedelta(hours=2))
        s.add(run)
        s.flush()
        for name, status, hours, errors in (
            ("baovinhlong", "ok", 2, []),
            ("thoibao", "ok", 30, []),
            ("thoibao", "error", 2, [{"message": "HTTP 503 <script>alert(1)</script>"}]),
        ):
            when = now - dt.timedelta(hours=hours)
            s.add(
                FetchLog(
                    run_id=run.id,
                    source_name=name,
                    status=status,
                    started_at=when,
                    finished_at=when + dt.timedelta(minutes=1),
                    errors=errors,
                )
            )
        s.commit()
    page = app_client(world, "quantri").get("/sources")
    assert page.status_code == 200
    ids = re.findall(r'<tr id="src-([a-z0-9_-]+)"', page.text)
    assert ids[0] == "thoibao"  # the only failing source comes first
    assert set(ids) >= {"baovinhlong", "mientay24h", "diendan", "mekongobserver"}
    row = re.search(r'<tr id="src-thoibao".*?</tr>', plain_rows := page.text, re.S).group(0)
    assert "HTTP 503 &lt;script&gt;" in row and "<script>alert(1)" not in plain_rows
    assert "50%" in row and "(1/2 lượt)" in row  # one error in two runs this week
    assert "Báo chí Trung ương" in row  # the channel, in Vietnamese
    text = plain(page.text)
    assert "1 nguồn đang lỗi" in text


# ── users admin ──────────────────────────────────────────────────────────────────────────────


def test_admin_adds_a_user_who_can_then_sign_in(world):
    admin = app_client(world, "quantri")
    r = form_post(admin, "/users", "/users", NEW_USER)
    assert r.status_code == 303
    page = admin.get(r.headers["location"])
    assert "Đã tạo tài khoản." in page.text and "Võ Thị Mai" in page.text
    assert sign_in(app_client(world), "vothimai", NEW_USER["password"]).status_code == 303
    [entry] = audit_rows(world, action="user.add", object_id="vothimai")
    assert entry.user == "quantri" and entry.after["role"] == "officer"


@pytest.mark.parametrize(
    "password, message",
    [
        ("ngắn-quá", "Mật khẩu phải có ít nhất 10 ký tự."),
        ("vothimai-2026-abc", "Mật khẩu không được chứa tên đăng nhập."),
    ],
)
def test_weak_password_is_refused_in_vietnamese(world, password, message):
    admin = app_client(world, "quantri")
    r = form_post(admin, "/users", "/users", {**NEW_USER, "password": password})
    assert r.status_code == 400
    assert message in r.text
    assert 'value="vothimai"' in r.text  # the form keeps what was typed (not the password)
    with world.factory() as s:
        assert find_user(s, "vothimai") is None
    r = form_post(admin, "/users", "/users/canbo/password", {"password": password[:6]})
    assert r.status_code == 400 and "ít nhất 10 ký tự" in r.text
    assert sign_in(app_client(world), "canbo").status_code == 303


def test_duplicate_username_is_a_400_with_the_reason(world):
    r = form_post(
        app_client(world, "quantri"), "/users", "/users", {**NEW_USER, "username": "canbo"}
    )
    assert r.status_code == 400 and "Tài khoản canbo đã có." in r.text


def test_disabled_user_is_signed_out_and_cannot_sign_in(world):
    officer = app_client(world, "canbo")
    assert officer.get("/account").status_code == 200
    admin = app_client(world, "quantri")
    r = form_post(admin, "/users", "/users/canbo/active", {"active": "0"})
    assert r.status_code == 303
    r = officer.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert sign_in(app_client(world), "canbo").status_code == 401
    [entry] = audit_rows(world, action="user.disable")
    assert (entry.user, entry.before, entry.after) == (
        "quantri",
        {"active": True},
        {"active": False},
    )
    form_post(admin, "/users", "/users/canbo/active", {"active": "1"})
    assert sign_in(app_client(world), "canbo").status_code == 303


def test_admin_changes_a_role_and_sets_a_password(world):
    admin = app_client(world, "quantri")
    assert form_post(admin, "/users", "/users/canbo2/role", {"role": "lead"}).status_code == 303
    assert app_client(world, "canbo2").get("/audit").status_code == 200  # now a lead
    [entry] = audit_rows(world, action="user.role")
    assert (entry.before, entry.after) == ({"role": "officer"}, {"role": "lead"})
    assert form_post(admin, "/users", "/users/canbo2/role", {"role": "chua"}).status_code == 400

    r = form_post(admin, "/users", "/users/canbo2/password", {"password": "Mật-khẩu-cấp-lại-01"})
    assert r.status_code == 303
    assert sign_in(app_client(world), "canbo2").status_code == 401  # the old one
    assert sign_in(app_client(world), "canbo2", "Mật-khẩu-cấp-lại-01").status_code == 303
    assert audit_rows(world, action="user.passwd", object_id="canbo2")[0].user == "quantri"


def test_unknown_account_is_a_404(world):
    admin = app_client(world, "quantri")
    r = form_post(admin, "/users", "/users/khongco/active", {"active": "0"})
    assert r.status_code == 404 and "Không có tài khoản khongco." in r.text


def test_admin_cannot_lock_themselves_out(world):
    admin = app_client(world, "quantri")
    r = form_post(admin, "/users", "/users/quantri/active", {"active": "0"})
    assert r.status_code == 400 and "chính mình" in r.text
    r = form_post(admin, "/users", "/users/quantri/role", {"role": "officer"})
    assert r.status_code == 400 and "chính mình" in r.text
    with world.factory() as s:
        me = find_user(s, "quantri")
        assert (me.role, me.active) == ("admin", True)
    assert admin.get("/users").status_code == 200
    assert audit_rows(world, object_id="quantri", object_type="user")[-1].action == "signin"


# ── own account ──────────────────────────────────────────────────────────────────────────────


def test_own_password_change_keeps_this_browser_and_ends_the_others(world):
    old = PASSWORDS["canbo"][2]
    new = "Cầu-Mỹ-Thuận-mới-2026"
    here, elsewhere = app_client(world, "canbo"), app_client(world, "canbo")
    before = here.cookies.get("diemtin_session")

    r = form_post(
        here,
        "/account",
        "/account/password",
        {"current": "sai-mật-khẩu-rồi", "new": new, "again": new},
    )
    assert r.status_code == 400 and "Mật khẩu hiện tại không đúng." in r.text
    r = form_post(
        here, "/account", "/account/password", {"current": old, "new": new, "again": new + "x"}
    )
    assert r.status_code == 400 and "không khớp" in r.text
    r = form_post(
        here, "/account", "/account/password", {"current": old, "new": "ngắn", "again": "ngắn"}
    )
    assert r.status_code == 400 and "ít nhất 10 ký tự" in r.text

    r = form_post(here, "/account", "/account/password", {"current": old, "new": new, "again": new})
    assert r.status_code == 303
    assert here.cookies.get("diemtin_session") != before  # a fresh session for this browser
    page = here.get(r.headers["location"])
    assert page.status_code == 200 and "Đã đổi mật khẩu." in page.text
    r = elsewhere.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert sign_in(app_client(world), "canbo", old).status_code == 401
    assert sign_in(app_client(world), "canbo", new).status_code == 303
    assert audit_rows(world, action="user.passwd", object_id="canbo")[0].user == "canbo"


def every_route(routes):
    """The app's routes, routers included (FastAPI ≥ 0.165 keeps an included router as one
    entry of app.routes; older versions copy its routes in)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from every_route(inner.routes)
        else:
            yield route


def api_get_route(app) -> str | None:
    """A GET route of the JSON API without path parameters, if the API is there."""
    for route in every_route(app.routes):
        path = getattr(route, "path", "")
        if (
            path.startswith("/api/")
            and "{" not in path
            and "openapi" not in path
            and "GET" in getattr(route, "methods", ())
        ):
            return path
    return None


def test_api_token_is_shown_once_works_and_stops_when_revoked(world):
    client = app_client(world, "lanhdao")
    r = form_post(client, "/account", "/account/tokens", {"name": "Cổng thông tin điện tử tỉnh"})
    assert r.status_code == 201
    [secret] = re.findall(r"dt_[A-Za-z0-9_-]{20,}", r.text)
    assert "Mã chỉ hiện một lần" in r.text
    page = client.get("/account")
    assert secret not in page.text and secret[:10] in page.text  # only its prefix, from now on
    assert "Cổng thông tin điện tử tỉnh" in page.text
    with world.factory() as s:
        assert user_for_token(s, secret, utcnow()).username == "lanhdao"
        s.commit()
    path = api_get_route(client.app)
    if path:
        api = app_client(world)
        assert api.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        assert api.get(path, headers={"Authorization": "Bearer dt_khong-dung"}).status_code == 401

    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', page.text).group(1)
    other = app_client(world, "canbo")  # someone else's token is not theirs to revoke
    assert form_post(other, "/account", f"/account/tokens/{token_id}/revoke", {}).status_code == 404
    r = form_post(client, "/account", f"/account/tokens/{token_id}/revoke", {})
    assert r.status_code == 303
    with world.factory() as s:
        assert user_for_token(s, secret, utcnow()) is None
    if path:
        assert api.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "Đã thu hồi" in client.get("/account").text
    assert [a.action for a in audit_rows(world, object_type="api_token")] == [
        "token.add",
        "token.revoke",
    ]


def test_account_page_without_sign_in_redirects(world):
    r = app_client(world).get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ── audit log ────────────────────────────────────────────────────────────────────────────────


def test_audit_page_shows_decisions_with_before_and_after(db_url, tmp_path):
    world = make_world(db_url, tmp_path)
    rumour = world.ids["rumour"]
    with world.factory() as s:
        record_decision(
            s,
            rumour,
            user="canbo",
            action="confirm",
            changes={"status": "dang_xu_ly", "handling": "Đề nghị Công an tỉnh xác minh"},
        )
        record_decision(
            s,
            rumour,
            user="canbo2",
            changes={"status": "da_xu_ly", "note": "<script>alert('ghi chú')</script>"},
        )
        s.commit()
    lead = app_client(world, "lanhdao")
    page = lead.get("/audit", params={"object_type": "item", "object_id": str(rumour)})
    assert page.status_code == 200
    text = rows_of(page.text)
    assert "Xác nhận cảnh báo" in text and "Cập nhật xử lý tin" in text
    assert "Trạng thái: Đang xử lý → Đã xử lý" in text
    assert "Đề xuất xử lý: Đề nghị Công an tỉnh xác minh" in text
    assert "&lt;script&gt;" in page.text and "<script>alert(" not in page.text
    assert f'href="/items/{rumour}"' in page.text
    # newest first: canbo2's update comes before canbo's confirmation
    assert text.index("Cập nhật xử lý tin") < text.index("Xác nhận cảnh báo")

    only = rows_of(lead.get("/audit", params={"action": "decision.confirm"}).text)
    assert "Xác nhận cảnh báo" in only and "Cập nhật xử lý tin" not in only
    by_user = rows_of(lead.get("/audit", params={"user": "canbo2"}).text)
    assert "Cập nhật xử lý tin" in by_user and "Xác nhận cảnh báo" not in by_user
    assert "Tạo tài khoản" not in by_user
    group = lead.get("/audit", params={"action": "decision.*"}).text
    assert "2 dòng" in plain(group) and "Đăng nhập" not in rows_of(group)
    nothing = lead.get("/audit", params={"user": "không-có-ai"}).text
    assert rows_of(nothing) == "" and "Không có dòng nào khớp bộ lọc." in nothing


def test_audit_log_pages_newest_first(world):
    start = utcnow()
    with world.factory() as s:
        for n in range(60):
            audit(
                s,
                user="lanhdao",
                action="signin",
                object_type="user",
                object_id=f"lan-{n:02d}",
                now=start + dt.timedelta(seconds=n),
            )
        s.commit()
    lead = app_client(world, "lanhdao")
    first = lead.get("/audit", params={"action": "signin", "user": "lanhdao"})
    assert "61 dòng" in plain(first.text)  # 60 + this sign-in
    assert "lan-59" in first.text and "lan-09" not in first.text
    assert 'href="/audit?user=lanhdao&amp;action=signin&amp;page=2"' in first.text
    second = lead.get("/audit", params={"action": "signin", "user": "lanhdao", "page": 2})
    assert "lan-09" in second.text and "lan-59" not in second.text
    for odd in ("0", "-3", "abc", "999999999999"):  # a hand-edited page: the first one
        r = lead.get("/audit", params={"action": "signin", "user": "lanhdao", "page": odd})
        assert r.status_code == 200 and "lan-59" in r.text
    last = lead.get("/audit", params={"action": "signin", "user": "lanhdao", "page": "7"})
    assert "trang 2/2" in plain(last.text) and "lan-09" in last.text


def test_no_route_changes_the_audit_log(world):
    client = app_client(world, "quantri")
    routes = list(every_route(client.app.routes))
    assert any(getattr(r, "path", "") == "/users" for r in routes)  # the walk sees routers
    audit_routes = [r for r in routes if getattr(r, "path", "").startswith("/audit")]
    assert audit_routes
    for route in audit_routes:
        assert set(route.methods) <= {"GET", "HEAD"}, route.path
    token = csrf_of(client.get("/audit").text)
    r = client.post("/audit", data={"csrf_token": token})
    assert r.status_code == 405


def test_changes_reads_as_field_old_new():
    got = changes(
        {"action": "note", "status": "moi", "topics": ["iuu"], "note": "cũ"},
        {"action": "confirm", "status": "moi", "topics": ["iuu", "ton_giao"], "rank": 2},
    )
    assert [(c.label, c.old, c.new) for c in got] == [
        ("Quyết định", "Ghi chú", "Xác nhận cảnh báo"),
        ("Chủ đề", "Chống khai thác IUU", "Chống khai thác IUU, Tôn giáo, tín ngưỡng"),
        ("Thứ tự", None, "2"),
        ("Ghi chú", "cũ", None),
    ]
    assert changes(None, {"active": False})[0].new == "không"
    assert changes({"role": "officer"}, {"role": "lead"})[0].new == "Lãnh đạo phòng"

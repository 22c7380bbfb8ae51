"""The digest desk over the real app, a real store and a real SMTP server (aiosmtpd): officers
edit the draft (summary, proposed handling, exclude/include, order) as audited decisions that
rebuild it; only a lead approves and sends; an edit after approval withdraws it; the ledger never
sends twice; the preview is served under a strict CSP of its own."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import itertools
import re
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from reviewkit import ROOT, VN, World, csrf_of, make_world, sign_in
from sqlalchemy import func, select

from digest.deliver import find_digest, ledger
from digest.model import Entry
from digest.schedule import DeliveryConfig, due
from digest.select import build_sections
from review.app import create_app
from review.decisions import record_many
from review.desk import PREVIEW_CSP, reorder
from store.models import AuditLog, Decision, Digest, Item
from store.settings import Settings, SmtpSettings

RECIPIENTS = ["Văn phòng Tỉnh ủy <vanphong@tinhuy.example.vn>", "lanhdao@ubnd.example.vn"]
HANDLING = "Đề nghị Công an tỉnh xác minh, xử lý tài khoản tung tin vỡ đê ở Cầu Ngang"


# ── a real mail server, a profile that sends to it, the app ──────────────────────────────────


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted for delivery"

    def parsed(self):
        return [
            (rcpts, email.message_from_bytes(raw, policy=email.policy.default))
            for rcpts, raw in self.messages
        ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtpd():
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


def profile_copy(folder: Path) -> Path:
    """The demo profile with its recipients pointed at the test's addresses (same file name, so
    the digests are the demo's)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8")
    block = re.search(r"  recipients:\n(?:    - .*\n)+", text)
    assert block, "the demo profile lists its recipients"
    lines = "".join(f'    - "{r}"\n' for r in RECIPIENTS)
    text = text.replace(block.group(0), "  recipients:\n" + lines)
    (folder / "demo.yaml").write_text(text, encoding="utf-8")
    (folder / "sites.yaml").write_text(
        (ROOT / "config" / "sites.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return folder / "demo.yaml"


def desk_world(url: str, tmp_path: Path, smtp_port: int) -> World:
    world = make_world(url, tmp_path / "data")
    world.profile_path = profile_copy(tmp_path / "profile")
    world.settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        profile=str(world.profile_path),
        smtp=SmtpSettings(
            host="127.0.0.1",
            port=smtp_port,
            security="none",
            from_addr="diemtin@sovhttdl.example.vn",
            retries=0,
            timeout=10,
        ),
    )
    world.clock = ticking(world.day)
    return world


def ticking(day: dt.date):
    """08:00 on the digest day (its window has closed), one second later at every look."""
    start = dt.datetime.combine(day, dt.time(8, 0), tzinfo=VN)
    counter = itertools.count()
    return lambda: start + dt.timedelta(seconds=next(counter))


def client_for(world: World, username: str) -> TestClient:
    app = create_app(
        world.settings,
        factory=world.factory,
        profile_name=str(world.profile_path),
        clock=world.clock,  # one clock for every user's client, as on a real server
    )
    app.state.desk_pdf = False  # LibreOffice takes a second a build; the builder tests cover it
    client = TestClient(app)
    assert sign_in(client, username).status_code == 303
    return client


@pytest.fixture
def world(sqlite_url, tmp_path, smtpd) -> World:
    w = desk_world(sqlite_url, tmp_path, smtpd.port)
    yield w
    w.factory.kw["bind"].dispose()


def page_of(world: World) -> str:
    return f"/desk?day={world.day.isoformat()}"


def post(client: TestClient, world: World, action: str, **data):
    """A desk form, posted with the page's CSRF token; the redirect's target page."""
    page = client.get(page_of(world))
    assert page.status_code == 200, page.text
    r = client.post(
        action,
        data={"day": world.day.isoformat(), **data, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return r


def digest_row(world: World) -> Digest:
    with world.factory() as s:
        row = find_digest(s, "demo", world.day)
        assert row is not None
        s.expunge(row)
        return row


def digest_html(world: World) -> str:
    return Path(digest_row(world).files["html"]).read_text(encoding="utf-8")


def version_of_page(html: str) -> str:
    m = re.search(r'name="version" value="([^"]+)"', html)
    assert m, "no approve form on the page"
    return m.group(1)


def approve(client: TestClient, world: World):
    page = client.get(page_of(world))
    return client.post(
        "/desk/approve",
        data={
            "day": world.day.isoformat(),
            "version": version_of_page(page.text),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


def section_titles(html: str, titles: list[str]) -> list[str]:
    """The given titles in the order the e-mail prints them (first occurrence)."""
    found = [(html.find(t), t) for t in titles]
    assert all(i >= 0 for i, _ in found), found
    return [t for _, t in sorted(found)]


RUMOUR = "KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG"
MAP = "Bản đồ du lịch biển Vĩnh Long thiếu Hoàng Sa, Trường Sa?"
FOREIGN = "Vinh Long farmers protest land compensation"


# ── tests ────────────────────────────────────────────────────────────────────────────────────


def test_anonymous_visitors_are_sent_to_sign_in(world):
    client = TestClient(create_app(world.settings, factory=world.factory))
    for url in ("/desk", "/desk/preview"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with world.factory() as s:
        assert find_digest(s, "demo", world.day) is None  # nothing built for nobody


def test_officer_sees_the_draft_but_cannot_approve_send_or_force(world, smtpd):
    officer = client_for(world, "canbo")
    page = officer.get(page_of(world))
    assert page.status_code == 200
    text = page.text
    assert "Bản nháp" in text and RUMOUR in text and MAP in text
    assert f'<iframe sandbox src="/desk/preview?day={world.day.isoformat()}"' in text
    assert "Giờ gửi theo lịch: 07:30" in text and "require_approval" in text
    assert "vanphong@tinhuy.example.vn" in text
    assert "Chỉ lãnh đạo được duyệt và gửi bản tin." in text
    assert 'action="/desk/approve"' not in text and 'action="/desk/send"' not in text
    # The draft was built on first sight, as it will be sent.
    row = digest_row(world)
    assert row.status == "built" and RUMOUR in digest_html(world)

    assert post(officer, world, "/desk/approve", version="x").status_code == 403
    assert post(officer, world, "/desk/send").status_code == 403
    assert post(officer, world, "/desk/build", force="true").status_code == 403
    row = digest_row(world)
    assert row.status == "built" and row.approved_by is None
    assert smtpd.messages == []


def test_editing_handling_and_summary_rebuilds_the_draft_with_audited_decisions(world):
    officer = client_for(world, "canbo")
    rumour, copy = world.ids["rumour"], world.ids["rumour_copy"]
    r = post(officer, world, "/desk/handling", item_id=str(copy), handling=HANDLING)
    assert r.status_code == 303 and "msg=saved" in r.headers["location"]
    summary = "Mạng xã hội lan truyền tin vỡ đê biển Cầu Ngang; UBND tỉnh đã bác bỏ."
    r = post(officer, world, "/desk/summary", item_id=str(rumour), summary=summary)
    assert "msg=saved" in r.headers["location"]

    html = digest_html(world)
    assert HANDLING in html and summary in html
    assert HANDLING in officer.get(f"/desk/preview?day={world.day.isoformat()}").text
    with world.factory() as s:
        decisions = s.scalars(select(Decision).where(Decision.item_id.in_([rumour, copy]))).all()
        newest = {d.item_id: d for d in sorted(decisions, key=lambda d: d.id)}
        assert {i: (d.handling, d.summary, d.user) for i, d in newest.items()} == {
            rumour: (HANDLING, summary, "canbo"),
            copy: (HANDLING, summary, "canbo"),
        }
        audits = s.scalar(
            select(func.count(AuditLog.id)).where(
                AuditLog.object_type == "item", AuditLog.user == "canbo"
            )
        )
        assert audits == 4  # two edits on the story's two items
    # The same text again changes nothing (no new decision, no rebuild).
    built = digest_row(world).built_at
    r = post(officer, world, "/desk/handling", item_id=str(rumour), handling=HANDLING)
    assert "msg=nochange" in r.headers["location"]
    assert digest_row(world).built_at == built


def test_exclude_removes_an_entry_and_include_puts_it_back(world):
    officer = client_for(world, "canbo")
    item = world.ids["sovereignty"]
    assert officer.get(page_of(world)).status_code == 200  # builds the draft
    assert MAP in digest_html(world)
    r = post(officer, world, "/desk/exclude", item_id=str(item))
    assert "msg=excluded" in r.headers["location"]
    assert MAP not in digest_html(world)
    page = officer.get(page_of(world)).text
    excluded = page.split("Tin đã loại khỏi bản tin", 1)[1]
    assert MAP in excluded and 'action="/desk/include"' in excluded

    r = post(officer, world, "/desk/include", item_id=str(item))
    assert "msg=included" in r.headers["location"]
    assert MAP in digest_html(world)
    assert "Tin đã loại khỏi bản tin" not in officer.get(page_of(world)).text
    with world.factory() as s:
        actions = [
            d.action
            for d in s.scalars(
                select(Decision).where(Decision.item_id == item).order_by(Decision.id)
            )
        ]
    assert actions == ["exclude", "confirm"]  # no verdict before: back in, as classified


def test_rank_reorders_entries_within_a_section(world):
    officer = client_for(world, "canbo")
    officer.get(page_of(world))
    titles = [RUMOUR, MAP, FOREIGN]
    assert section_titles(digest_html(world), titles) == [RUMOUR, MAP, FOREIGN]

    r = post(officer, world, "/desk/move", item_id=str(world.ids["foreign"]), position="1")
    assert "msg=moved" in r.headers["location"]
    assert section_titles(digest_html(world), titles) == [FOREIGN, RUMOUR, MAP]
    r = post(officer, world, "/desk/move", item_id=str(world.ids["foreign"]), direction="down")
    assert section_titles(digest_html(world), titles) == [RUMOUR, FOREIGN, MAP]
    r = post(officer, world, "/desk/move", item_id=str(world.ids["sovereignty"]), direction="up")
    assert section_titles(digest_html(world), titles) == [RUMOUR, MAP, FOREIGN]
    with world.factory() as s:
        rank = s.scalars(
            select(Decision.rank)
            .where(Decision.item_id == world.ids["sovereignty"])
            .order_by(Decision.id.desc())
        ).first()
    assert rank == 2
    # Other sections keep their own order: the bridge still heads the local press.
    html = digest_html(world)
    assert html.find("Khởi công cầu Đình Khao") < html.find("nông dân Trà Ôn")


def entry(title: str, rank: int | None, severity: str = "nhay_cam") -> Entry:
    return Entry(
        story_id=None,
        item_ids=[hash(title) % 1000],
        title=title,
        outlets=["Báo Vĩnh Long"],
        outlet_count=1,
        time=dt.datetime(2026, 11, 21, 9, tzinfo=VN),
        url=None,
        summary="",
        tone="tieu_cuc",
        sensitivity=severity,
        rank=rank,
    )


def test_build_sections_puts_ranked_entries_first_in_rank_order():
    a, b, c, d = entry("A", None), entry("B", 2), entry("C", None, "can_chu_y"), entry("D", 1)
    first = build_sections([a, b, c, d])[0]
    assert [e.title for e in first.entries] == ["D", "B", "A", "C"]
    assert [e.ref for e in first.entries] == ["I.1", "I.2", "I.3", "I.4"]


def test_reorder_ranks_only_as_far_as_needed():
    es = [entry(t, None) for t in "ABCDE"]
    assert [(e.title, n) for e, n in reorder(es, es[3], 2)] == [
        ("A", 1),
        ("D", 2),
        ("B", 3),
        ("C", 4),
    ]
    assert [(e.title, n) for e, n in reorder(es, es[0], 2)] == [("B", 1), ("A", 2)]
    es[2].rank = 3  # an earlier rank reaches further: renumbered too
    assert [(e.title, n) for e, n in reorder(es, es[0], 99)][-1] == ("A", 5)


@pytest.fixture
def db_world(db_url, tmp_path, smtpd) -> World:
    w = desk_world(db_url, tmp_path, smtpd.port)
    yield w
    w.factory.kw["bind"].dispose()


def test_lead_approves_and_sends_once_per_recipient(db_world, smtpd):
    world = db_world
    officer = client_for(world, "canbo")
    officer.get(page_of(world))
    post(officer, world, "/desk/handling", item_id=str(world.ids["rumour"]), handling=HANDLING)

    lead = client_for(world, "lanhdao")
    r = approve(lead, world)
    assert "msg=approved" in r.headers["location"]
    row = digest_row(world)
    assert (row.status, row.approved_by) == ("approved", "lanhdao") and row.approved_at
    page = lead.get(r.headers["location"]).text
    assert "Đã duyệt bản tin." in page and "bởi Lê Hoàng Phúc" in page

    r = post(lead, world, "/desk/send")
    assert r.headers["location"].endswith("msg=sent&n=2&a=0&f=0")
    page = lead.get(r.headers["location"]).text
    assert "Kết quả gửi: đã gửi cho 2 người nhận." in page
    assert page.count('<span class="badge delivery-sent">Đã gửi</span>') == 2
    got = smtpd.parsed()
    assert sorted(rcpt for rcpts, _ in got for rcpt in rcpts) == [
        "lanhdao@ubnd.example.vn",
        "vanphong@tinhuy.example.vn",
    ]
    for _, msg in got:
        assert HANDLING in msg.get_body(("plain",)).get_content()
        assert HANDLING in msg.get_body(("html",)).get_content()
    assert digest_row(world).status == "sent"

    r = post(lead, world, "/desk/send")  # again: the ledger has them all
    assert r.headers["location"].endswith("msg=sent&n=0&a=2&f=0")
    assert len(smtpd.messages) == 2
    with world.factory() as s:
        assert [d.status for d in ledger(s, row.id)] == ["sent", "sent"]
        actions = s.scalars(
            select(AuditLog.action)
            .where(AuditLog.object_type == "digest", AuditLog.object_id == str(row.id))
            .order_by(AuditLog.id)
        ).all()
    assert actions == ["digest.approve", "digest.send", "digest.send"]
    # A sent digest is no longer edited.
    r = post(officer, world, "/desk/handling", item_id=str(world.ids["rumour"]), handling="Khác")
    assert "msg=locked" in r.headers["location"]
    assert "Khác" not in digest_html(world)


def test_an_edit_after_approval_withdraws_it(world, smtpd):
    lead = client_for(world, "lanhdao")
    lead.get(page_of(world))
    old_page = lead.get(page_of(world)).text
    assert "msg=approved" in approve(lead, world).headers["location"]

    officer = client_for(world, "canbo")
    page = officer.get(page_of(world)).text
    assert "sửa bây giờ sẽ bỏ duyệt" in page
    r = post(officer, world, "/desk/handling", item_id=str(world.ids["rumour"]), handling=HANDLING)
    assert "msg=withdrawn" in r.headers["location"]
    row = digest_row(world)
    assert (row.status, row.approved_by, row.approved_at) == ("built", None, None)
    assert HANDLING in digest_html(world)
    page = officer.get(page_of(world)).text
    assert "Bản tin đã thay đổi sau khi duyệt: cần duyệt lại." in page
    # Sending needs a new approval; approving the build seen before the edit is refused.
    assert "msg=unapproved" in post(lead, world, "/desk/send").headers["location"]
    stale = lead.post(
        "/desk/approve",
        data={
            "day": world.day.isoformat(),
            "version": version_of_page(old_page),
            "csrf_token": csrf_of(old_page),
        },
        follow_redirects=False,
    )
    assert "msg=changed" in stale.headers["location"]
    assert "msg=approved" in approve(lead, world).headers["location"]
    assert "Bản tin đã thay đổi sau khi duyệt" not in lead.get(page_of(world)).text
    assert smtpd.messages == []


def test_a_decision_from_elsewhere_is_built_in_when_approving(world):
    lead = client_for(world, "lanhdao")
    seen = lead.get(page_of(world)).text  # the draft, built now
    later = dt.datetime.combine(world.day, dt.time(9, 0), tzinfo=VN)
    with world.factory() as s:  # an officer decides on the item page meanwhile
        record_many(
            s,
            [world.ids["foreign"]],
            user="canbo2",
            changes={"handling": "Theo dõi sát"},
            now=later,
        )
        s.commit()
    # Approving the page drawn before that decision is refused: the lead has not seen it.
    r = lead.post(
        "/desk/approve",
        data={
            "day": world.day.isoformat(),
            "version": version_of_page(seen),
            "csrf_token": csrf_of(seen),
        },
        follow_redirects=False,
    )
    assert "msg=changed" in r.headers["location"] and digest_row(world).status == "built"
    page = lead.get(page_of(world)).text
    assert "quyết định mới" in page and "Theo dõi sát" in page
    assert "Theo dõi sát" not in digest_html(world)  # the draft predates it
    # Approving the page that shows it rebuilds the draft with it, then approves.
    assert "msg=approved" in approve(lead, world).headers["location"]
    assert digest_row(world).status == "approved" and "Theo dõi sát" in digest_html(world)


def test_preview_is_served_under_its_own_strict_csp(world):
    officer = client_for(world, "canbo")
    officer.get(page_of(world))
    r = officer.get(f"/desk/preview?day={world.day.isoformat()}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == PREVIEW_CSP
    assert PREVIEW_CSP == (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    assert "data:image/png;base64," in r.text and "cid:bieu-do" not in r.text
    assert '<script>alert("xss")' not in r.text and "Tin nóng" in r.text
    # No digest for a day without one: nothing to show.
    other = (world.day - dt.timedelta(days=30)).isoformat()
    assert officer.get(f"/desk/preview?day={other}").status_code == 404
    page = officer.get(f"/desk?day={other}").text
    assert "Tạo bản nháp" in page  # another day is built only on request


def test_due_can_refuse_to_send_unapproved_at_the_deadline():
    day = dt.date(2026, 11, 21)
    late = dt.datetime.combine(day, dt.time(10, 0), tzinfo=VN)
    waits = DeliveryConfig(
        send_at=dt.time(7, 30),
        require_approval=True,
        deadline=dt.time(9, 0),
        send_unapproved=False,
    )
    built = late - dt.timedelta(hours=2)
    assert not due(late, day, waits, status="built", built_at=built).send
    assert due(late, day, waits, status="approved", built_at=built).send
    sends = DeliveryConfig(send_at=dt.time(7, 30), require_approval=True, deadline=dt.time(9, 0))
    assert due(late, day, sends, status="built", built_at=built).send


def test_malformed_input_gets_a_page_not_a_crash(world):
    officer = client_for(world, "canbo")
    assert officer.get("/desk?day=22-11-2026").status_code == 422
    assert officer.get("/desk/preview?day=%3Cscript%3E").status_code == 422
    r = post(officer, world, "/desk/exclude", item_id="1 OR 1=1")
    assert r.status_code == 422 and "không hợp lệ" in r.text
    r = post(
        officer, world, "/desk/handling", item_id=str(world.ids["rumour"]), handling="x" * 5000
    )
    assert r.status_code == 422 and "quá dài" in r.text
    with world.factory() as s:
        assert s.scalar(select(func.count(Decision.id))) == 0


# ── the desk reads the build's model; a cheap check says when it is stale ────────────────────


def shown(data) -> list[tuple]:
    """What the desk shows of each entry, section by section."""
    return [
        (s.code, e.ref, e.title, e.item_ids, e.summary, e.handling, e.rank, e.decided_by)
        for s in data.sections
        for e in s.entries
    ]


def test_the_desk_reads_the_archived_model_and_patches_what_changed_since(world):
    from digest.build import collect, window_state
    from digest.model import from_json
    from review.desk import desk_cache, digest_data

    officer = client_for(world, "canbo")
    officer.get(page_of(world))  # builds the draft
    row = digest_row(world)
    stored = from_json(Path(row.files["json"]).read_text(encoding="utf-8"))
    assert stored.built_at == row.built_at and stored.newest_item == max(world.ids.values())
    app = officer.app
    desk = review_desk_of(app)

    def live(s):
        return collect(s, desk.profile, "demo", world.day, row.number, world.settings, now=desk.now)

    with world.factory() as s:
        state = window_state(s, row.window_start, row.window_end, row.built_at)
        assert not state.decided and not state.arrived
        assert state.items > 0 and state.newest_item == stored.newest_item
        data, _ = digest_data(s, desk, digest_row(world))
        assert shown(data) == shown(stored) == shown(live(s))

    # Decisions made elsewhere after the build make those stories again: what collecting the
    # whole window would say.
    with world.factory() as s:
        later = row.built_at + dt.timedelta(minutes=5)
        record_many(
            s,
            [world.ids["rumour_copy"]],
            user="canbo2",
            changes={"summary": "Tóm tắt mới."},
            now=later,
        )
        record_many(s, [world.ids["foreign"]], user="canbo2", action="exclude", now=later)
        record_many(s, [world.ids["bridge_2"]], user="canbo2", changes={"rank": 1}, now=later)
        s.commit()
        state = window_state(s, row.window_start, row.window_end, row.built_at)
        assert state.decided == {world.ids[n] for n in ("rumour_copy", "foreign", "bridge_2")}
        cache = desk_cache(app.state)
        data, state = digest_data(s, desk, digest_row(world))
        assert shown(data) == shown(live(s)) != shown(stored)
        assert "Tóm tắt mới." in [e.summary for e in data.entries]
        assert FOREIGN not in [e.title for e in data.entries]
        assert cache[row.id].data.sections is data.sections  # kept until something changes
        again, _ = digest_data(s, desk, digest_row(world))
        assert again.sections is data.sections
    page = officer.get(page_of(world)).text
    assert "quyết định mới" in page and "Tóm tắt mới." in page
    assert "Vinh Long farmers protest" in page.split("Tin đã loại khỏi bản tin", 1)[1]
    # An item that came after the build (not yet classified) is shown too, and said.
    with world.factory() as s:
        like = s.get(Item, world.ids["ordinary"])
        late = Item(
            url="https://baohong.example.vn/bai-den-sau.html",
            source_id=like.source_id,
            kind=like.kind,
            language="vi",
            title="Tin đến sau khi lập bản nháp",
            text="Vĩnh Long: tin đến sau khi lập bản nháp.",
            published_at=like.published_at,
            fetched_at=row.built_at + dt.timedelta(minutes=7),
            content_hash="f" * 64,
            title_key="tin den sau",
        )
        s.add(late)
        s.commit()
        state = window_state(s, row.window_start, row.window_end, row.built_at, stored.newest_item)
        assert state.arrived == {late.id}
        data, state = digest_data(s, desk, digest_row(world))
        assert state.arrived == {late.id} and shown(data) == shown(live(s))
    page = officer.get(page_of(world)).text
    assert "Tin đến sau khi lập bản nháp" in page and "Có 1 tin, bài mới thu thập" in page


def review_desk_of(app):
    """The desk of the app's own request path, outside a request."""
    from types import SimpleNamespace

    from review.desk import desk_of

    return desk_of(SimpleNamespace(app=app, state=SimpleNamespace()))


def test_long_sections_list_their_later_entries_by_title(world, monkeypatch):
    import review.desk

    monkeypatch.setattr(review.desk, "FULL_ENTRIES", 1)
    officer = client_for(world, "canbo")
    page = officer.get(page_of(world)).text
    # Section I (needs handling) is whole: every entry with its forms.
    handling = page.split('id="muc-can_xu_ly"', 1)[1].split('id="muc-press_central"', 1)[0]
    assert handling.count('action="/desk/summary"') >= 3 and 'class="desk-compact"' not in handling
    # The local press: the first entry with its forms, the others by title, each with a link
    # to edit it where the section is opened whole.
    local = page.split('id="muc-press_local"', 1)[1].split('id="muc-press_foreign"', 1)[0]
    count = int(re.search(r"\((\d+) tin\)", local).group(1))
    assert count >= 2 and local.count('action="/desk/summary"') == 1
    head, compact = local.split('class="desk-compact"', 1)
    listed = [int(i) for i in re.findall(r'<li id="tin-(\d+)">', compact)]
    drawn = [int(i) for i in re.findall(r'<article class="card desk-entry" id="tin-(\d+)"', head)]
    assert len(drawn) == 1 and len(listed) == count - 1 and drawn[0] not in listed
    later = listed[0]
    edit = f"/desk?day={world.day.isoformat()}&amp;section=press_local#tin-{later}"
    assert f'href="{edit}"' in compact and f'href="/items/{later}"' in compact
    # Opened, the section is whole; an edit there comes back to it.
    opened = officer.get(f"{page_of(world)}&section=press_local").text
    local = opened.split('id="muc-press_local"', 1)[1].split('id="muc-press_foreign"', 1)[0]
    assert local.count('action="/desk/summary"') == count and 'class="desk-compact"' not in local
    assert "Thu gọn mục này" in local
    r = post(officer, world, "/desk/summary", item_id=str(later), summary="Tóm tắt của bàn.")
    assert r.headers["location"] == (
        f"/desk?day={world.day.isoformat()}&section=press_local&msg=saved#tin-{later}"
    )
    assert "Tóm tắt của bàn." in officer.get(r.headers["location"]).text
    # An unknown section opens nothing.
    page = officer.get(f"{page_of(world)}&section=%3Cx%3E").text
    assert page.count('class="desk-compact"') >= 1 and "&lt;x&gt;" not in page

"""The item page and recording decisions, on a real store through the real app.

Forms are submitted the way a browser submits them: every field the page drew (hidden "was"
values, ticked topics, selected options, textarea contents), with the officer's edits on top.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

import pytest
from reviewkit import XSS_TEXT, app_client, make_world
from sqlalchemy import select

from review.evidence import highlight, paragraphs, spans
from store.models import AuditLog, Decision

# ── helpers ──────────────────────────────────────────────────────────────────────────────────


class _Page(HTMLParser):
    """Tags with their attributes, and the decision form's fields as a browser would send them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.fields: list[tuple[str, str]] = []
        self._form = False
        self._select: str | None = None
        self._option: str | None = None
        self._first_option: tuple[str, str] | None = None
        self._selected = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "form" and a.get("action", "").endswith("/decision"):
            self._form = True
        if not self._form:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            else:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._selected, self._first_option = a.get("name"), False, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = (self._select, a.get("value", ""))
            if "selected" in a:
                self.fields.append((self._select, a.get("value", "")))
                self._selected = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_endtag(self, tag):
        if tag == "form" and self._form:
            self._form = False
        elif tag == "select" and self._select:
            if not self._selected and self._first_option:
                self.fields.append(self._first_option)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


def submit(client, item_id: int, edits: dict | None = None, *, unset: tuple[str, ...] = ()):
    """Load the item page and post its decision form with `edits` (a list value replaces every
    field of that name, e.g. the ticked topics); `unset` unticks checkboxes by name."""
    page = client.get(f"/items/{item_id}")
    assert page.status_code == 200, page.text
    fields = parse(page.text).fields
    edits = edits or {}
    data: dict[str, list[str]] = {}
    for name, value in fields:
        if name in edits or name in unset:
            continue
        data.setdefault(name, []).append(value)
    for name, value in edits.items():
        data[name] = value if isinstance(value, list) else [value]
    return client.post(f"/items/{item_id}/decision", data=data, follow_redirects=False)


def decisions(world, item_id: int | None = None) -> list[Decision]:
    with world.factory() as s:
        stmt = select(Decision).order_by(Decision.id)
        if item_id is not None:
            stmt = stmt.where(Decision.item_id == item_id)
        return list(s.scalars(stmt))


def audit_rows(world, item_id: int) -> list[AuditLog]:
    with world.factory() as s:
        return list(
            s.scalars(
                select(AuditLog)
                .where(AuditLog.object_type == "item", AuditLog.object_id == str(item_id))
                .order_by(AuditLog.id)
            )
        )


@pytest.fixture
def world(sqlite_url, tmp_path):
    return make_world(sqlite_url, tmp_path)


HANDLING = (
    "Đề nghị Công an tỉnh xác minh tài khoản Tin Nóng Miền Tây; Báo Vĩnh Long đăng lại thông tin "
    "bác bỏ của UBND tỉnh về đê biển Cầu Ngang."
)


# ── the page ─────────────────────────────────────────────────────────────────────────────────


def test_rumour_page_shows_the_evidence(db_url, tmp_path):
    world = make_world(db_url, tmp_path)
    client = app_client(world, "canbo")
    r = client.get(f"/items/{world.ids['rumour']}")
    assert r.status_code == 200
    html = r.text
    # the claim, and the official denial linked to its own item page
    assert "KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG (TRÀ VINH CŨ)!" in html
    assert "UBND tỉnh Vĩnh Long bác bỏ thông tin vỡ đê biển ở Cầu Ngang" in html
    assert f'href="/items/{world.ids["denial"]}"' in html
    assert "khớp với thông tin bác bỏ/cải chính chính thức" in html
    assert "71%" in html and "86%" in html  # similarity, misleading score
    # places and lexicon hits, highlighted in the title and the text
    assert "<mark>Cầu Ngang</mark>" in html
    assert "Trà Vinh cũ" in html
    assert "đơn vị cũ" in html
    assert "<mark>Nghe nói</mark> đê biển ở <mark>Cầu Ngang</mark>" in html
    assert "KHẨN: <mark>VỠ ĐÊ</mark> BIỂN Ở <mark>CẦU NGANG</mark>" in html
    assert "Tin đồn, chưa kiểm chứng" in html
    # the other copy in the story, outlet and scores as percentages
    assert f'href="/items/{world.ids["rumour_copy"]}"' in html
    assert "Miền Tây 24h" in html
    assert re.search(r"Tiêu cực</span>.*?88%", html, re.S)
    assert "Mạng xã hội" in html  # channel in Vietnamese
    assert "09:10" in html  # local time of publication
    assert 'rel="noopener noreferrer"' in html


def test_copy_without_diacritics_is_highlighted(world):
    client = app_client(world, "canbo")
    html = client.get(f"/items/{world.ids['rumour_copy']}").text
    # the copy's title is typed without accents: "Cau Ngang" still matches the place "Cầu Ngang",
    # "Vo de" the lexicon phrase "vỡ đê" (two syllables or more: safe without diacritics)
    assert "<mark>Vo de</mark> bien o <mark>Cau Ngang</mark>, nguoi dan hoang mang" in html


def test_xss_item_renders_inert(world):
    client = app_client(world, "canbo")
    r = client.get(f"/items/{world.ids['xss']}")
    assert r.status_code == 200
    html = r.text
    page = parse(html)
    scripts = [a for tag, a in page.tags if tag == "script"]
    assert scripts == [{"src": "/static/app.js", "defer": ""}]
    for tag, attrs in page.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for k in ("href", "src", "action"):
            assert not attrs.get(k, "").strip().lower().startswith("javascript:"), (tag, attrs)
    assert "<script>alert" not in html
    assert "onerror=" not in re.sub(r"&lt;.*?&gt;", "", html)  # only inside escaped text
    assert 'href="javascript:' not in html
    assert "<img" not in html and "<b>" not in html
    # the scraped markup is shown as text, so the officer sees what was posted
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "&lt;a href=&#34;javascript:alert(3)&#34;&gt;xem ngay&lt;/a&gt;" in html
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in html  # a reason from the classifier
    # its address has "<x>" in it: no link to it
    assert "bai-xss.html" in html
    assert not [a for tag, a in page.tags if tag == "a" and "bai-xss" in a.get("href", "")]


def test_foreign_item_shows_its_author(world):
    client = app_client(world, "canbo")
    html = client.get(f"/items/{world.ids['foreign']}").text
    assert "Tác giả</dt><dd>Jane Doe</dd>" in html
    assert "Báo chí nước ngoài" in html
    assert "Vinh Long farmers protest land compensation for coastal wind farm" in html
    # a Vietnamese item without an author has no author line
    assert "Tác giả" not in client.get(f"/items/{world.ids['ordinary']}").text


def test_unknown_item_is_404_in_vietnamese(world):
    client = app_client(world, "canbo")
    r = client.get("/items/987654")
    assert r.status_code == 404
    assert "Không có tin số 987654" in r.text
    assert client.get(f"/items/{2**70}").status_code == 404
    assert client.get("/items/abc").status_code == 404
    r = client.post(
        "/items/987654/decision",
        data={"verdict": "confirm", "csrf_token": csrf_from(client, world)},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert decisions(world) == []


def csrf_from(client, world) -> str:
    from reviewkit import csrf_of

    return csrf_of(client.get(f"/items/{world.ids['ordinary']}").text)


def test_anonymous_visitor_is_sent_to_sign_in(world):
    client = app_client(world)
    r = client.get(f"/items/{world.ids['rumour']}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ── decisions ────────────────────────────────────────────────────────────────────────────────


def test_decision_with_handling_and_status_is_appended_and_audited(db_url, tmp_path):
    world = make_world(db_url, tmp_path)
    client = app_client(world, "canbo")
    rid = world.ids["rumour"]
    r = submit(
        client,
        rid,
        {
            "verdict": "confirm",
            "handling": HANDLING,
            "status": "dang_xu_ly",
            "assignee": "canbo2",
            "note": "Đã báo lãnh đạo phòng.",
            "story": [],
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/items/{rid}?ghi=1"
    rows = decisions(world)
    assert len(rows) == 1
    d = rows[0]
    assert (d.item_id, d.user, d.action) == (rid, "canbo", "confirm")
    assert (d.handling, d.status, d.assignee, d.note) == (
        HANDLING,
        "dang_xu_ly",
        "canbo2",
        "Đã báo lãnh đạo phòng.",
    )
    log = audit_rows(world, rid)
    assert len(log) == 1
    assert log[0].user == "canbo" and log[0].action == "decision.confirm"
    assert log[0].before is None
    assert log[0].after["handling"] == HANDLING and log[0].after["status"] == "dang_xu_ly"

    html = client.get(r.headers["location"]).text
    assert "Đã ghi quyết định." in html
    assert HANDLING in html
    assert "Xác nhận cảnh báo" in html and "Đang xử lý" in html
    assert "Trần Văn Minh" in html  # the assignee, by name
    # the form is drawn with what is now in force
    fields = dict(parse(html).fields)
    assert fields["handling"] == HANDLING and fields["was_handling"] == HANDLING
    assert fields["status"] == "dang_xu_ly" and fields["assignee"] == "canbo2"


def test_plain_confirm_does_not_freeze_the_labels(world):
    client = app_client(world, "canbo")
    rid = world.ids["rumour"]
    assert submit(client, rid, {"verdict": "confirm", "story": []}).status_code == 303
    (d,) = decisions(world)
    assert d.action == "confirm"
    assert (d.topics, d.tone, d.sensitivity, d.misleading) == (None, None, None, None)
    assert (d.handling, d.assignee, d.note, d.status) == (None, None, None, None)


def test_only_the_changed_labels_are_recorded(world):
    client = app_client(world, "canbo")
    fid = world.ids["foreign"]
    r = submit(
        client,
        fid,
        {"verdict": "correct", "tone": "trung_lap", "topics": ["dat_dai_khieu_kien"]},
    )
    assert r.status_code == 303
    (d,) = decisions(world)
    assert d.action == "correct"
    assert d.tone == "trung_lap"
    assert d.topics == ["dat_dai_khieu_kien"]  # dau_tu_kinh_te (0.5) unticked
    assert (d.sensitivity, d.misleading) == (None, None)
    html = client.get(f"/items/{fid}").text
    assert "cán bộ sửa; phân loại: Tiêu cực" in html
    # posting the redrawn form unchanged records nothing
    r = submit(client, fid)
    assert r.headers["location"].endswith("?ghi=0")
    assert len(decisions(world)) == 1
    assert "Không có gì thay đổi" in client.get(r.headers["location"]).text


def test_apply_to_story_writes_one_row_per_copy(world):
    client = app_client(world, "canbo")
    b1, b2, b3 = (world.ids[f"bridge_{n}"] for n in (1, 2, 3))
    page = client.get(f"/items/{b2}").text
    assert dict(parse(page).fields).get("story") == "1"  # ticked by default in a story
    r = submit(client, b2, {"verdict": "confirm", "status": "da_xu_ly", "handling": "Theo dõi."})
    assert r.status_code == 303 and r.headers["location"].endswith("?ghi=3")
    rows = decisions(world)
    assert sorted(d.item_id for d in rows) == sorted([b1, b2, b3])
    assert {(d.action, d.status, d.handling) for d in rows} == {
        ("confirm", "da_xu_ly", "Theo dõi.")
    }
    assert all(len(audit_rows(world, i)) == 1 for i in (b1, b2, b3))
    html = client.get(f"/items/{b1}").text
    assert "Đã xử lý" in html
    assert html.count("Trên bản tin:") == 2  # the decisions on the two other copies


def test_without_apply_to_story_only_this_copy(world):
    client = app_client(world, "canbo")
    b1 = world.ids["bridge_1"]
    assert submit(client, b1, {"verdict": "exclude"}, unset=("story",)).status_code == 303
    assert [d.item_id for d in decisions(world)] == [b1]


def test_second_decision_appends_and_keeps_the_first(world):
    client = app_client(world, "canbo")
    rid = world.ids["rumour"]
    submit(client, rid, {"verdict": "confirm", "handling": HANDLING, "status": "moi", "story": []})
    (first,) = decisions(world)
    snapshot = (first.id, first.at, first.action, first.handling, first.status, first.user)
    client2 = app_client(world, "canbo2")
    r = submit(
        client2,
        rid,
        {"status": "da_xu_ly", "note": "Báo Vĩnh Long đã đăng cải chính.", "story": []},
    )
    assert r.status_code == 303
    rows = decisions(world)
    assert len(rows) == 2
    again = rows[0]
    assert (again.id, again.at, again.action, again.handling, again.status, again.user) == snapshot
    second = rows[1]
    # the second carries everything in force: the verdict and handling of the first
    assert (second.user, second.action, second.handling, second.status) == (
        "canbo2",
        "confirm",
        HANDLING,
        "da_xu_ly",
    )
    log = audit_rows(world, rid)
    assert len(log) == 2
    assert log[1].before["status"] == "moi" and log[1].after["status"] == "da_xu_ly"
    html = client.get(f"/items/{rid}").text
    history = html[html.index("Các quyết định trước") :]
    assert history.index("Trần Văn Minh") < history.index("Nguyễn Thị Lan")  # newest first
    assert "Báo Vĩnh Long đã đăng cải chính." in history


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"tone": "xyz"}, "Sắc thái không hợp lệ: xyz"),
        ({"assignee": "khongcoai"}, "Không có cán bộ khongcoai để giao việc."),
        ({"verdict": "xoa"}, "Quyết định không hợp lệ: xoa"),
        ({"topics": ["chu_quyen_bien_dao", "khong_ton_tai"]}, "Chủ đề không hợp lệ: khong_ton_tai"),
    ],
)
def test_invalid_values_give_400_and_write_nothing(world, edits, message):
    client = app_client(world, "canbo")
    rid = world.ids["rumour"]
    r = submit(client, rid, {"handling": "Nội dung không được lưu.", **edits})
    assert r.status_code == 400
    assert message in r.text
    assert "Nội dung không được lưu." in r.text  # the officer's text is kept on the form
    assert decisions(world) == []
    assert audit_rows(world, rid) == []


def test_over_long_handling_is_refused_with_a_message(world):
    client = app_client(world, "canbo")
    r = submit(client, world.ids["ordinary"], {"verdict": "confirm", "handling": "ý" * 4001})
    assert r.status_code == 400
    assert "Nội dung quá dài (tối đa 4.000 ký tự)." in r.text
    assert decisions(world) == []


def test_decision_needs_the_csrf_token(world):
    client = app_client(world, "canbo")
    r = client.post(
        f"/items/{world.ids['rumour']}/decision",
        data={"verdict": "dismiss"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert decisions(world) == []


def test_decision_reaches_the_digest(world):
    from digest.build import build_digest
    from store.profile import load_profile

    client = app_client(world, "canbo")
    r = submit(
        client,
        world.ids["rumour"],
        {"verdict": "confirm", "handling": HANDLING, "status": "dang_xu_ly"},
    )
    assert r.status_code == 303
    profile, _ = load_profile(world.profile_path)
    result = build_digest(world.factory, profile, "demo", world.day, world.settings, pdf=False)
    html = result.files["html"].read_text(encoding="utf-8")
    assert HANDLING in html


# ── highlighting (pure) ──────────────────────────────────────────────────────────────────────


def test_highlight_escapes_first_and_marks_whole_words():
    out = highlight('<b>Cầu Ngang</b> & "cầu ngang"; Cầu Ngangx', ["Cầu Ngang"])
    assert str(out) == (
        "&lt;b&gt;<mark>Cầu Ngang</mark>&lt;/b&gt; &amp; &#34;<mark>cầu ngang</mark>&#34;; "
        "Cầu Ngangx"
    )


def test_highlight_matches_nfd_old_tone_marks_and_no_diacritics():
    nfd = unicodedata.normalize("NFD", "Xã Hòa Thuận")
    ((a, b),) = spans(nfd, ["Hoà Thuận"])  # stored NFD, the old tone placement "oà"
    assert unicodedata.normalize("NFC", nfd[a:b]) == "Hòa Thuận" and b == len(nfd)
    assert str(highlight("Lu lut o Hoa Thuan", ["Hòa Thuận"])) == "Lu lut o <mark>Hoa Thuan</mark>"
    # a single syllable is matched only with its diacritics ("de" is not "đê")
    assert str(highlight("de bien", ["đê"])) == "de bien"


def test_paragraphs_split_on_lines_and_stay_text():
    out = paragraphs(XSS_TEXT + "\n\n  Dòng hai ở Vĩnh Long.\r\n", ["Vĩnh Long"])
    assert len(out) == 2
    assert "<script>" not in out[0] and "&lt;script&gt;" in out[0]
    assert str(out[1]) == "Dòng hai ở <mark>Vĩnh Long</mark>."

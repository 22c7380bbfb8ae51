"""Immediate alerts to a REAL SMTP server (aiosmtpd on 127.0.0.1): a new sensitive or misleading
story is e-mailed once, with its evidence and link; the hourly limit sends one summary for the
rest, then holds what is over it until the hour frees up; officers' decisions win; refusals
leave a record and a later run delivers without duplicates; scraped markup arrives inert."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from digest.alerts import check_alerts
from store.models import Alert, Classification, Decision, Delivery, Item, Source, Story, utcnow
from store.profile import load_profile
from store.settings import SmtpSettings, load_settings

AGENCY = "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"
TO = ["Trực ban <trucban@sovhttdl.example.vn>", "lanhdao@tinhuy.example.vn"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.data_reply: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def parsed(self):
        return [
            email.message_from_bytes(raw, policy=email.policy.default) for _, raw in self.messages
        ]

    def to(self, addr: str):
        return [
            email.message_from_bytes(raw, policy=email.policy.default)
            for rcpts, raw in self.messages
            if rcpts == [addr]
        ]


@pytest.fixture
def smtpd():
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def profile_at(tmp_path: Path, *, per_hour: int = 5, review: bool = True):
    path = tmp_path / "vinh_long.yaml"
    lines = "\n".join(f'    - "{r}"' for r in TO)
    review_url = '  review_url: "https://diemtin.example.vn/tin/{item_id}"\n' if review else ""
    path.write_text(
        f"""province: {{code: vinh_long, name: Vĩnh Long}}
agency: {AGENCY}
digest:
  recipients: [vanphong@ubnd.example.vn]
  alert_recipients:
{lines}
  alert_max_per_hour: {per_hour}
{review_url}""",
        encoding="utf-8",
    )
    profile, problems = load_profile(path)
    assert not problems
    return profile


class Store:
    """Sources, stories, items and their classification, written by hand."""

    def __init__(self, factory):
        self.factory = factory
        self.n = 0
        with factory() as s:
            for name, title, kind in (
                ("baovinhlong", "Báo Vĩnh Long", "press_local"),
                ("diendan", "Diễn đàn Miền Tây", "social"),
            ):
                s.add(
                    Source(
                        name=name,
                        title=title,
                        profile="vinh_long",
                        kind=kind,
                        language="vi",
                        fetch_type="feed",
                        urls=[f"https://{name}.example/rss"],
                    )
                )
            s.commit()

    def story(self, title: str, outlets=("diendan",)) -> int:
        now = utcnow()
        with self.factory() as s:
            st = Story(
                title=title,
                first_seen=now,
                last_seen=now,
                outlets=list(outlets),
                item_count=len(outlets),
                spread=[[o, now.isoformat()] for o in outlets],
            )
            s.add(st)
            s.commit()
            return st.id

    def item(
        self,
        title: str,
        *,
        story: int | None = None,
        source: str = "diendan",
        sensitivity: str = "nhay_cam",
        misleading: str = "khong",
        evidence: dict | None = None,
        age: dt.timedelta = dt.timedelta(hours=1),
        relevant: bool = True,
    ) -> int:
        self.n += 1
        story = story or self.story(title)
        when = utcnow() - age
        with self.factory() as s:
            src = s.scalar(select(Source).where(Source.name == source))
            it = Item(
                url=f"https://{source}.example/bai-{self.n}",
                source_id=src.id,
                kind=src.kind,
                language="vi",
                title=title,
                text=f"{title}. Nội dung bài {self.n} về tỉnh Vĩnh Long.",
                published_at=when,
                fetched_at=when,
                content_hash=hashlib.sha256(f"{title}{self.n}".encode()).hexdigest(),
                title_key=hashlib.sha1(f"{title}{self.n}".encode()).hexdigest(),
            )
            s.add(it)
            s.flush()
            s.add(
                Classification(
                    item_id=it.id,
                    relevant=relevant,
                    relevance=0.9,
                    story_id=story,
                    tone="tieu_cuc",
                    sensitivity=sensitivity,
                    sensitivity_reasons=["Nhạy cảm: chủ đề nhạy cảm, sắc thái tiêu cực"]
                    if sensitivity == "nhay_cam"
                    else [],
                    misleading=misleading,
                    misleading_score=0.9 if misleading != "khong" else 0.0,
                    misleading_evidence=evidence or {},
                    model_version="test",
                )
            )
            s.commit()
            return it.id


@pytest.fixture
def store(session_factory):
    return Store(session_factory)


def settings_for(port: int):
    return load_settings(
        smtp=SmtpSettings(
            host="127.0.0.1",
            port=port,
            security="none",
            from_addr="canhbao@sovhttdl.example.vn",
            retries=1,
            retry_backoff=0,
        )
    )


def run(store, smtpd, profile, **kw):
    return check_alerts(store.factory, settings_for(smtpd.port), profile, "vinh_long", **kw)


def test_a_new_sensitive_or_misleading_story_alerts_once_with_its_evidence(store, smtpd, tmp_path):
    profile = profile_at(tmp_path)
    denial = store.item(
        "UBND tỉnh Vĩnh Long bác bỏ tin đồn thu hồi đất",
        source="baovinhlong",
        sensitivity="binh_thuong",
    )
    rumour = store.item(
        "Vĩnh Long sắp thu hồi 500 ha đất ở Trà Ôn?",
        misleading="sai_lech",
        evidence={
            "claim": "Tỉnh sẽ thu hồi 500 ha đất của dân để làm khu công nghiệp",
            "why": "khớp với thông tin bác bỏ/cải chính chính thức",
            "statement": {"item_id": denial, "title": "UBND tỉnh Vĩnh Long bác bỏ tin đồn"},
        },
    )
    sensitive = store.story("Biểu tình ở xã Long Hồ", outlets=("diendan", "baovinhlong"))
    first = store.item("Biểu tình ở xã Long Hồ", story=sensitive)
    store.item("Người dân tụ tập ở Long Hồ", story=sensitive)  # same story: one alert
    store.item("Vĩnh Long khánh thành cầu mới", sensitivity="binh_thuong")  # nothing to say

    result = run(store, smtpd, profile)
    assert (result.created, result.sent, result.held, result.exit_code) == (2, 2, 0, 0)
    assert len(smtpd.messages) == 4  # two stories × two recipients, one recipient each
    mine = smtpd.to("trucban@sovhttdl.example.vn")
    subjects = [m["Subject"] for m in mine]
    # Misleading first, then sensitive.
    assert subjects == [
        "[Cảnh báo] Tin sai lệch: Vĩnh Long sắp thu hồi 500 ha đất ở Trà Ôn?",
        "[Cảnh báo] Tin nhạy cảm: Biểu tình ở xã Long Hồ",
    ]
    text = mine[0].get_body(("plain",)).get_content()
    assert "khớp với thông tin bác bỏ/cải chính chính thức" in text
    assert "Tỉnh sẽ thu hồi 500 ha đất của dân" in text  # the claim
    assert "UBND tỉnh Vĩnh Long bác bỏ tin đồn" in text  # the matching statement
    assert "https://baovinhlong.example/bai-1" in text  # … and its link
    assert "https://diendan.example/bai-2" in text  # the item's own link
    assert f"https://diemtin.example.vn/tin/{rumour}" in text  # the review page
    html = mine[1].get_body(("html",)).get_content()
    assert "https://diendan.example/bai-3" in html and f"/tin/{first}" in html
    assert "2 nguồn" in html and "chủ đề nhạy cảm, sắc thái tiêu cực" in html

    with store.factory() as s:
        alerts = s.scalars(select(Alert).order_by(Alert.id)).all()
        assert [(a.reason, a.status) for a in alerts] == [
            ("sai_lech", "sent"),
            ("nhay_cam", "sent"),
        ]
        rows = s.scalars(select(Delivery)).all()
        assert len(rows) == 4 and {r.status for r in rows} == {"sent"}
        assert all(r.alert_id and r.digest_id is None for r in rows)

    # Again, and with a new copy of an alerted story: nothing new.
    store.item("Tiếp tục tụ tập ở Long Hồ", story=sensitive)
    again = run(store, smtpd, profile)
    assert (again.created, again.sent, again.summarised) == (0, 0, 0)
    assert len(smtpd.messages) == 4


def test_over_the_hourly_limit_one_summary_then_held_until_the_hour_frees(store, smtpd, tmp_path):
    profile = profile_at(tmp_path, per_hour=3)
    titles = [f"Tin nhạy cảm số {i} về Vĩnh Long" for i in range(1, 7)]
    for i, t in enumerate(titles):
        store.item(t, misleading="sai_lech" if i == 5 else "khong")
    result = run(store, smtpd, profile)
    assert (result.created, result.sent, result.summarised, result.held) == (6, 2, 4, 0)
    mine = smtpd.to("lanhdao@tinhuy.example.vn")
    assert len(mine) == 3  # the budget: 3 e-mails per recipient per hour
    # The misleading one goes first, alone; the summary lists the rest.
    assert mine[0]["Subject"] == f"[Cảnh báo] Tin sai lệch: {titles[5]}"
    assert mine[2]["Subject"] == "[Cảnh báo] 4 câu chuyện nhạy cảm, sai lệch mới"
    summary = mine[2].get_body(("plain",)).get_content()
    listed = [t for t in titles if t in summary]
    assert len(listed) == 4 and titles[5] not in listed
    with store.factory() as s:
        assert set(s.scalars(select(Alert.status))) == {"sent"}

    # Two more within the hour: no budget left, they wait.
    store.item("Tin nhạy cảm số 7 về Vĩnh Long")
    store.item("Tin nhạy cảm số 8 về Vĩnh Long")
    held = run(store, smtpd, profile)
    assert (held.created, held.sent, held.held) == (2, 0, 2)
    assert "chờ lượt sau" in held.note
    assert len(smtpd.messages) == 6
    # An hour later they go, one e-mail each, once.
    later = utcnow() + dt.timedelta(minutes=61)
    freed = run(store, smtpd, profile, now=later)
    assert (freed.sent, freed.held) == (2, 0)
    assert len(smtpd.messages) == 10
    assert run(store, smtpd, profile, now=later).sent == 0
    assert len(smtpd.messages) == 10


def test_with_one_email_left_everything_waiting_goes_in_one_summary(store, smtpd, tmp_path):
    profile = profile_at(tmp_path, per_hour=1)
    for i in range(3):
        store.item(f"Câu chuyện {i} ở Vĩnh Long")
    result = run(store, smtpd, profile)
    assert (result.sent, result.summarised) == (0, 3)
    assert [m["Subject"] for m in smtpd.to("lanhdao@tinhuy.example.vn")] == [
        "[Cảnh báo] 3 câu chuyện nhạy cảm, sai lệch mới"
    ]


def test_officers_decisions_win_and_old_stories_never_alert(store, smtpd, tmp_path):
    profile = profile_at(tmp_path)
    dismissed = store.item("Tin đã được cán bộ bỏ qua")
    raised = store.item("Tin cán bộ nâng lên nhạy cảm", sensitivity="can_chu_y")
    store.item("Tin nhạy cảm cũ", age=dt.timedelta(days=5))
    store.item("Tin không liên quan", relevant=False)
    with store.factory() as s:
        s.add(Decision(item_id=dismissed, user="canbo", action="dismiss"))
        s.add(Decision(item_id=raised, user="canbo", action="correct", sensitivity="nhay_cam"))
        s.commit()
    result = run(store, smtpd, profile)
    assert result.created == 1
    assert {m["Subject"] for m in smtpd.parsed()} == {
        "[Cảnh báo] Tin nhạy cảm: Tin cán bộ nâng lên nhạy cảm"
    }


def test_refused_alert_is_recorded_and_a_later_run_delivers_it_once(store, smtpd, tmp_path):
    profile = profile_at(tmp_path)
    store.item("Tin nhạy cảm A")
    smtpd.data_reply = "554 5.7.1 rejected"
    failed = run(store, smtpd, profile)
    assert failed.exit_code == 1 and failed.sent == 0 and smtpd.messages == []
    with store.factory() as s:
        assert s.scalar(select(Alert.status)) == "failed"
        rows = s.scalars(select(Delivery)).all()
        assert all(r.status == "failed" and "554" in r.last_error for r in rows)
    smtpd.data_reply = None
    store.item("Tin nhạy cảm B")  # a new story meanwhile
    later = run(store, smtpd, profile)
    assert later.exit_code == 0 and later.sent == 1  # B; A is the owed one, retried first
    subjects = sorted(m["Subject"] for m in smtpd.to("lanhdao@tinhuy.example.vn"))
    assert subjects == [
        "[Cảnh báo] Tin nhạy cảm: Tin nhạy cảm A",
        "[Cảnh báo] Tin nhạy cảm: Tin nhạy cảm B",
    ]
    run(store, smtpd, profile)
    assert len(smtpd.messages) == 4
    with store.factory() as s:
        assert set(s.scalars(select(Alert.status))) == {"sent"}
        assert s.scalar(select(func.count(Delivery.id))) == 4


def test_markup_in_a_scraped_title_is_inert_in_the_alert(store, smtpd, tmp_path):
    profile = profile_at(tmp_path, review=False)
    title = 'Tin <script>alert("x")</script><img src=x onerror=alert(1)> về Vĩnh Long'
    store.item(title)
    run(store, smtpd, profile)
    msg = smtpd.to("lanhdao@tinhuy.example.vn")[0]
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", html)
    assert "&lt;script&gt;" in html
    assert title in msg.get_body(("plain",)).get_content()
    assert msg["Subject"].endswith(
        'Tin <script>alert("x")</script><img src=x onerror=alert(1)> về Vĩnh Long'
    )


def test_no_alert_recipients_or_alerts_off(store, smtpd, tmp_path):
    store.item("Tin nhạy cảm C")
    off = profile_at(tmp_path, per_hour=0)
    assert run(store, smtpd, off).created == 0
    path = tmp_path / "none.yaml"
    path.write_text(
        f"province: {{code: vinh_long, name: Vĩnh Long}}\nagency: {AGENCY}\n"
        "digest:\n  alert_recipients: []\n",
        encoding="utf-8",
    )
    none, _ = load_profile(path)
    result = check_alerts(store.factory, settings_for(smtpd.port), none, "vinh_long")
    assert result.created == 1 and result.held == 1 and "alert_recipients" in result.note
    assert smtpd.messages == []


def test_an_alert_still_failing_after_the_lookback_expires(store, smtpd, tmp_path):
    profile = profile_at(tmp_path)
    store.item("Tin nhạy cảm D")
    smtpd.data_reply = "550 5.1.1 no such user"
    assert run(store, smtpd, profile).exit_code == 1
    smtpd.data_reply = None
    later = run(store, smtpd, profile, now=utcnow() + dt.timedelta(hours=49))
    assert later.expired == 1 and later.exit_code == 0 and smtpd.messages == []
    with store.factory() as s:
        assert s.scalar(select(Alert.status)) == "expired"

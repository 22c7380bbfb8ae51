"""The cycle (`diemtin run`): when the digest is due, build and send it once however often the
cycle runs; approval and deadline; the cycle lock; a crawl that overruns is stopped; `schedule`
prints cron and systemd; `serve` repeats the cycle; and, end to end on the demo network, crawl →
classify → alerts → build → send to a real SMTP server, twice, with nothing sent twice."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import os
import socket
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from typer.testing import CliRunner

from diemtin.jobs import cycle_lock, run_crawl_subprocess, run_cycle, serve_forever
from digest.deliver import find_digest, ledger
from digest.schedule import DeliveryConfig, delivery_config, due, parse_clock, parse_recipients
from store.models import Alert, Classification, Delivery, Digest, Item, Source, Story
from store.profile import load_profile
from store.settings import SmtpSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = dt.date(2025, 7, 15)
AGENCY = "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"


def at(hh: int, mm: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=VN)


# ── when is the digest due ───────────────────────────────────────────────────────────────────


def test_clock_and_recipient_parsing():
    assert parse_clock("07:30") == dt.time(7, 30)
    assert parse_clock("7h") == dt.time(7, 0)
    assert parse_clock(450) == dt.time(7, 30)  # YAML 1.1 reads an unquoted 07:30 as 450
    assert parse_clock(None, dt.time(8)) == dt.time(8)
    with pytest.raises(ValueError):
        parse_clock("sáng")
    got = parse_recipients("Lãnh đạo <a@x.vn>, b@x.vn, A@X.VN, không-phải-địa-chỉ")
    assert got == ["Lãnh đạo <a@x.vn>", "b@x.vn"]


def test_due_without_approval():
    cfg = DeliveryConfig(send_at=dt.time(7, 30))
    early = due(at(6, 59), DAY, cfg, status=None, built_at=None)
    assert not early.build and not early.send and "chưa khép" in early.reason
    waiting = due(at(7, 10), DAY, cfg, status=None, built_at=None)
    assert waiting.build and not waiting.send and "07:30" in waiting.reason
    go = due(at(7, 30), DAY, cfg, status="built", built_at=at(7, 10))
    assert go.send and not go.build
    # A preview built before the window closed is rebuilt before it goes.
    stale = due(at(7, 45), DAY, cfg, status="built", built_at=at(6, 0))
    assert stale.build and stale.send
    assert not due(at(9), DAY, cfg, status="sent", built_at=at(7)).send
    # Interrupted or refused: sent again (the ledger sends only what is owed), never rebuilt.
    for status in ("sending", "failed"):
        d = due(at(9), DAY, cfg, status=status, built_at=at(7))
        assert d.send and not d.build


def test_due_with_approval_and_deadline():
    cfg = DeliveryConfig(send_at=dt.time(7, 30), require_approval=True, deadline=dt.time(9, 0))
    built = due(at(7, 5), DAY, cfg, status=None, built_at=None)
    assert built.build and not built.send and "duyệt" in built.reason
    wait = due(at(8), DAY, cfg, status="built", built_at=at(7, 5))
    assert not wait.send and "09:00" in wait.reason
    assert due(at(8), DAY, cfg, status="approved", built_at=at(7, 5)).send
    assert not due(at(7, 20), DAY, cfg, status="approved", built_at=at(7, 5)).send
    late = due(at(9), DAY, cfg, status="built", built_at=at(7, 5))
    assert late.send and "quá hạn" in late.reason
    # No deadline given: send_at + 2 h.
    default = DeliveryConfig(send_at=dt.time(7, 30), require_approval=True)
    assert not due(at(9, 29), DAY, default, status="built", built_at=at(7)).send
    assert due(at(9, 30), DAY, default, status="built", built_at=at(7)).send


# ── a store, a profile and a mail server ─────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
            for _, raw in self.messages
        ]

    def digests(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        out = []
        for rcpts, raw in self.messages:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            if msg["Subject"].startswith("Điểm tin báo chí"):
                out.append((rcpts, msg))
        return out


@pytest.fixture
def smtpd():
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def smtp_settings(port: int, *, retries: int = 3, **kw):
    smtp = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        from_addr="diemtin@sovhttdl.example.vn",
        retries=retries,
    )
    return load_settings(smtp=smtp, **kw)


def write_profile(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "vinh_long.yaml"
    path.write_text(
        f"""province: {{code: vinh_long, name: Vĩnh Long}}
agency: {AGENCY}
digest:
  recipients: ["Lãnh đạo <lanhdao@tinhuy.example.vn>", vanphong@ubnd.example.vn]
  send_at: "07:30"
{extra}""",
        encoding="utf-8",
    )
    return path


def fill(factory) -> None:
    """One classified local-press item inside DAY's window."""
    when = at(20, 0, DAY - dt.timedelta(days=1))
    title = "Vĩnh Long khánh thành cầu Cổ Chiên 2"
    with factory() as s:
        src = Source(
            name="baovinhlong",
            title="Báo Vĩnh Long",
            profile="vinh_long",
            kind="press_local",
            language="vi",
            fetch_type="feed",
            urls=["https://baovinhlong.example/rss"],
        )
        story = Story(title=title, first_seen=when, last_seen=when, outlets=["baovinhlong"])
        s.add_all([src, story])
        s.flush()
        item = Item(
            url="https://baovinhlong.example/cau-co-chien-2.html",
            source_id=src.id,
            kind="press_local",
            language="vi",
            title=title,
            text="Sáng 14/7, tỉnh Vĩnh Long khánh thành cầu Cổ Chiên 2. Cầu dài 2,4 km.",
            published_at=when,
            content_hash=hashlib.sha256(title.encode()).hexdigest(),
            title_key=hashlib.sha1(title.encode()).hexdigest(),
        )
        s.add(item)
        s.flush()
        s.add(
            Classification(
                item_id=item.id,
                relevant=True,
                relevance=0.9,
                story_id=story.id,
                topics={"chi_dao_dieu_hanh": 0.9},
                tone="tich_cuc",
                sensitivity="binh_thuong",
                model_version="test",
            )
        )
        s.commit()


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """The real classifier, loaded once for the module (as `serve` keeps it)."""
    from classify.pipeline import Classifier

    profile, _ = load_profile(ROOT / "config" / "demo.yaml")
    return Classifier(profile, cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture
def cycle(tmp_path, smtpd, sqlite_url, classifier):
    settings = smtp_settings(smtpd.port, database_url=sqlite_url)
    from store.db import open_store

    factory = open_store(sqlite_url)
    fill(factory)

    def go(now, profile_extra: str = ""):
        write_profile(tmp_path, profile_extra)
        return run_cycle(
            settings,
            str(tmp_path / "vinh_long.yaml"),
            now=now,
            crawl=False,
            classifier=classifier,
        )

    go.factory = factory
    go.settings = settings
    yield go
    factory.kw["bind"].dispose()


# ── the cycle ────────────────────────────────────────────────────────────────────────────────


def test_run_cycle_builds_when_the_window_closes_and_sends_once(cycle, smtpd):
    early = cycle(at(6, 30))
    assert early.exit_code == 0 and not early.built and early.send is None
    assert "chưa khép" in early.digest
    built = cycle(at(7, 10))
    assert built.built and built.send is None and "07:30" in built.digest
    sent = cycle(at(7, 45))
    assert sent.exit_code == 0, sent.errors
    assert not sent.built  # built at 07:10, after the window closed: kept as it is
    assert sorted(sent.send.sent) == [
        "Lãnh đạo <lanhdao@tinhuy.example.vn>",
        "vanphong@ubnd.example.vn",
    ]
    again = cycle(at(7, 50))
    assert again.exit_code == 0 and again.send is None and again.digest == "đã gửi"
    later = cycle(at(12, 0))
    assert later.send is None
    digests = smtpd.digests()
    assert sorted(r for rcpts, _ in digests for r in rcpts) == [
        "lanhdao@tinhuy.example.vn",
        "vanphong@ubnd.example.vn",
    ]
    assert "cầu Cổ Chiên 2" in digests[0][1].get_body(("plain",)).get_content()
    with cycle.factory() as s:
        assert find_digest(s, "vinh_long", DAY).status == "sent"


def test_run_cycle_twice_in_a_row_after_send_time_sends_once(cycle, smtpd):
    first = cycle(at(8, 0))
    assert first.built and first.exit_code == 0
    second = cycle(at(8, 0))
    assert second.send is None and not second.built
    assert len(smtpd.digests()) == 2  # one per recipient


def test_run_cycle_waits_for_approval_until_the_deadline(cycle, smtpd):
    extra = '  require_approval: true\n  deadline: "09:00"\n'
    built = cycle(at(7, 5), extra)
    assert built.built and built.send is None
    assert cycle(at(8, 0), extra).send is None
    assert smtpd.messages == []
    late = cycle(at(9, 1), extra)
    assert late.send is not None and len(late.send.sent) == 2 and "quá hạn" in late.digest


def test_run_cycle_sends_an_approved_digest_at_send_time(cycle, smtpd):
    extra = "  require_approval: true\n"
    cycle(at(7, 5), extra)
    with cycle.factory() as s:
        row = find_digest(s, "vinh_long", DAY)
        row.status, row.approved_by, row.approved_at = "approved", "lanhdao.so", at(7, 20)
        s.commit()
    sent = cycle(at(7, 31), extra)
    assert sent.send is not None and len(sent.send.sent) == 2
    with cycle.factory() as s:
        row = find_digest(s, "vinh_long", DAY)
        assert row.status == "sent" and row.approved_by == "lanhdao.so"


def test_two_cycles_never_overlap(cycle, smtpd):
    with cycle_lock(cycle.settings.data_dir):
        report = cycle(at(8, 0))
    assert report.skipped and report.send is None and smtpd.messages == []
    assert report.exit_code == 0
    assert cycle(at(8, 0)).send is not None


def test_a_refused_digest_is_retried_by_the_next_cycle(cycle, smtpd, tmp_path):
    from digest.deliver import send_digest

    class Refuse:
        async def handle_DATA(self, server, session, envelope):
            return "451 4.3.0 try later"

    busy = Controller(Refuse(), hostname="127.0.0.1", port=free_port())
    busy.start()
    try:
        settings = smtp_settings(busy.port, retries=0, database_url=cycle.settings.database_url)
        profile, _ = load_profile(write_profile(tmp_path))
        result = send_digest(cycle.factory, settings, profile, "vinh_long", DAY, now=at(8))
        assert result.exit_code == 75 and result.status == "failed"
    finally:
        busy.stop()
    report = cycle(at(8, 15))
    assert report.exit_code == 0 and len(report.send.sent) == 2
    assert len(smtpd.digests()) == 2


def test_a_crawl_that_overruns_is_stopped_and_the_cycle_goes_on(tmp_path, sqlite_url):
    settings = load_settings(database_url=sqlite_url, data_dir=tmp_path / "data")
    step = run_crawl_subprocess(settings, ROOT / "config" / "demo.yaml", timeout=0.5)
    assert step.timed_out and step.returncode != 0
    assert (tmp_path / "data" / "logs" / "crawl.log").exists()


# ── the command line ─────────────────────────────────────────────────────────────────────────


def cli_app():
    from diemtin.cli import app
    from diemtin.digest_cli import register

    register(app)
    register(app)  # idempotent
    return app


def test_schedule_prints_a_crontab_line_and_a_systemd_pair(tmp_path, monkeypatch):
    import sys

    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(
        cli_app(), ["--data-dir", str(tmp_path / "kho"), "schedule", "-p", "demo"]
    )
    assert out.exit_code == 0, out.output
    text = out.output
    cron = [line for line in text.splitlines() if line.startswith("*/15 * * * * ")]
    assert len(cron) == 1
    assert f"cd {tmp_path}" in cron[0] and f"{sys.executable} -m diemtin" in cron[0]
    assert f"--data-dir {tmp_path / 'kho'} run --profile" in cron[0]
    assert "[Service]\nType=oneshot" in text and f"WorkingDirectory={tmp_path}" in text
    assert f"ExecStart={sys.executable} -m diemtin" in text
    assert "[Timer]\nOnCalendar=*:0/15\nPersistent=true" in text
    assert "WantedBy=timers.target" in text
    hourly = CliRunner().invoke(cli_app(), ["schedule", "-p", "demo", "--every", "1h"])
    assert "0 */1 * * * " in hourly.output and "OnCalendar=0/1:00" in hourly.output
    bad = CliRunner().invoke(cli_app(), ["schedule", "-p", "demo", "--every", "7m"])
    assert bad.exit_code == 2


def test_run_command_reports_and_exits_zero(tmp_path, smtpd, sqlite_url):
    from store.db import open_store

    fill(open_store(sqlite_url))
    write_profile(tmp_path, '  send_at: "00:00"\n  window_start: "00:00"\n')
    env = {
        "DIEMTIN_DATABASE_URL": sqlite_url,
        "DIEMTIN_SMTP_HOST": "127.0.0.1",
        "DIEMTIN_SMTP_PORT": str(smtpd.port),
        "DIEMTIN_SMTP_SECURITY": "none",
    }
    args = ["run", "--no-crawl", "-p", str(tmp_path / "vinh_long.yaml")]
    first = CliRunner().invoke(cli_app(), args, env=env)
    assert first.exit_code == 0, first.output
    assert "Điểm tin ngày" in first.output and "đã gửi 2 thư" in first.output
    second = CliRunner().invoke(cli_app(), [*args, "--json"], env=env)
    assert second.exit_code == 0, second.output
    import json

    report = json.loads(second.output)
    assert report["digest"] == "đã gửi" and report["send"] is None and report["exit_code"] == 0
    assert len(smtpd.digests()) == 2


def test_serve_repeats_the_cycle_with_each_crawl_in_a_subprocess(tmp_path, smtpd, sqlite_url):
    profile = write_profile(tmp_path)
    settings = smtp_settings(smtpd.port, database_url=sqlite_url, data_dir=tmp_path / "data")
    reports = []
    stop = threading.Event()
    n = serve_forever(
        settings,
        str(profile),
        every=dt.timedelta(seconds=1),
        on_report=reports.append,
        stop=stop,
        max_cycles=2,
        crawl_timeout=120,
    )
    assert n == 2 and len(reports) == 2
    for r in reports:
        assert r.crawl is not None and r.crawl.returncode == 0, r.crawl and r.crawl.tail
        assert r.errors == []
    log = (tmp_path / "data" / "logs" / "crawl.log").read_text(encoding="utf-8")
    assert log.count("=== ") == 2


# ── end to end on the demo network ───────────────────────────────────────────────────────────


@pytest.mark.slow
def test_demo_network_crawl_classify_alert_build_send_twice(tmp_path, smtpd, monkeypatch):
    """Crawl (subprocess) → classify (real encoder) → alerts → build → send, on the demo
    network, into aiosmtpd; the same cycle again sends nothing more."""
    from crawlers.demo.server import DemoNetwork

    settings = smtp_settings(smtpd.port, data_dir=tmp_path / "data")
    profile, _ = load_profile(ROOT / "config" / "demo.yaml")
    recipients = sorted(a.split("<")[-1].rstrip(">") for a in delivery_config(profile).recipients)
    assert recipients, "config/demo.yaml has no digest recipients"
    today = dt.datetime.now(VN).date()
    now = at(7, 45, today)
    with DemoNetwork(port=0) as network:
        monkeypatch.setenv("DIEMTIN_DEMO_URL", network.base_url)
        first = run_cycle(settings, "demo", now=now, crawl_timeout=300)
        second = run_cycle(settings, "demo", now=now + dt.timedelta(minutes=15))
    assert first.crawl.returncode == 0, first.crawl.tail
    assert first.errors == [], first.errors
    assert first.classified > 100 and first.relevant > 20
    assert first.built and sorted(first.send.sent) == sorted(delivery_config(profile).recipients)
    assert first.alerts.created >= 1 and first.alerts.exit_code == 0

    digests = smtpd.digests()
    assert sorted(r for rcpts, _ in digests for r in rcpts) == recipients
    msg = digests[0][1]
    assert msg["Subject"].startswith("Điểm tin báo chí số 1/")
    html = msg.get_body(("html",)).get_content()
    assert "cid:bieu-do" in html and "Thông tin cần xử lý" in html
    names = {p.get_filename() for p in msg.iter_attachments()}
    assert {f"diem-tin-{today}.docx", f"bieu-do-{today}.png"} <= names

    alerts_sent = [s for s in smtpd.subjects() if s.startswith("[Cảnh báo]")]
    assert alerts_sent
    count = len(smtpd.messages)
    assert second.errors == [] and second.crawl.returncode == 0
    assert second.send is None and second.digest == "đã gửi"
    assert second.alerts.sent == 0 and second.alerts.summarised == 0
    assert len(smtpd.messages) == count  # nothing twice

    from store.db import open_store

    factory = open_store(settings.db_url)
    with factory() as s:
        digest = find_digest(s, "demo", today)
        assert digest.status == "sent"
        assert {r.status for r in ledger(s, digest.id)} == {"sent"}
        n_alerts = s.scalar(select(func.count(Alert.id)))
        per_story = s.scalar(select(func.count(func.distinct(Alert.story_id))))
        assert n_alerts == per_story >= 1
        assert s.scalar(select(func.count(Digest.id))) == 1
        assert set(s.scalars(select(Delivery.status))) == {"sent"}
    factory.kw["bind"].dispose()
    os.environ.pop("DIEMTIN_DEMO_URL", None)

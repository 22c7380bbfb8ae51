"""Delivering the digest to a REAL SMTP server (aiosmtpd on 127.0.0.1): one message per recipient
with its parts and attachments, a decoded Vietnamese subject, the ledger (a second run sends
nothing, --resend is explicit, a killed sender re-run sends each recipient exactly once),
refusals (permanent and transient), authentication from a secrets file, STARTTLS and SSL."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import functools
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import zlib
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from typer.testing import CliRunner

from digest.deliver import find_digest, inert_html, ledger, send_digest
from store.models import Delivery, Digest
from store.profile import load_profile
from store.settings import SmtpSettings, load_settings

# The test servers take a login without TLS on purpose (the password test); aiosmtpd warns.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ROOT = Path(__file__).resolve().parents[1]
TZ = dt.timezone(dt.timedelta(hours=7))
DAY = dt.date(2025, 7, 15)
AGENCY = "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"
SUBJECT = f"Điểm tin báo chí số 7/2025 ngày 15/07/2025 — {AGENCY}"
RECIPIENTS = [
    "Nguyễn Văn Ánh <anh@tinhuy.example.vn>",
    "vanphong@ubnd.example.vn",
    "Trần Thị Đào <dao@sotttt.example.vn>",
]
ADDRS = ["anh@tinhuy.example.vn", "vanphong@ubnd.example.vn", "dao@sotttt.example.vn"]


# ── a real SMTP server ───────────────────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps what it accepted, and can refuse or stall on demand."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.data_reply: str | None = None  # e.g. "554 5.7.1 rejected"
        self.refuse_times = 0  # refuse DATA this many times, then accept
        self.stall_on = None  # stall at RCPT of this (1-based) transaction
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.transactions = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.transactions += 1
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stall_on is not None and self.transactions == self.stall_on:
            self.stall_on = None
            self.stalled.set()
            for _ in range(600):  # until released or the client is gone (bounded: 30 s)
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
            return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_times:
            self.refuse_times -= 1
            return "451 4.3.0 try later"
        if self.data_reply:
            return self.data_reply
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted for delivery"

    def parsed(self):
        return [
            (rcpts, email.message_from_bytes(raw, policy=email.policy.default))
            for rcpts, raw in self.messages
        ]


@pytest.fixture
def smtpd():
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        handler.release.set()
        controller.stop()


# ── a digest on disk and in the store ────────────────────────────────────────────────────────


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xb0\x00\x20"))
        + chunk(b"IEND", b"")
    )


def write_profile(tmp_path: Path, recipients=RECIPIENTS, name: str = "vinh_long") -> Path:
    path = tmp_path / f"{name}.yaml"
    lines = "\n".join(f'    - "{r}"' for r in recipients)
    path.write_text(
        f"""province: {{code: vinh_long, name: Vĩnh Long}}
agency: {AGENCY}
digest:
  recipients:
{lines}
""",
        encoding="utf-8",
    )
    return path


def make_digest(factory, tmp_path: Path, *, html: str | None = None, profile="vinh_long") -> int:
    out = tmp_path / "archive"
    out.mkdir(exist_ok=True)
    files = {
        "html": out / "diem-tin-2025-07-15.html",
        "txt": out / "diem-tin-2025-07-15.txt",
        "docx": out / "diem-tin-2025-07-15.docx",
        "png": out / "bieu-do-2025-07-15.png",
    }
    files["html"].write_text(
        html
        or (
            "<!DOCTYPE html><html><body><h1>Điểm tin báo chí</h1>"
            "<p>Lũ ở Vĩnh Long &lt;script&gt;alert(1)&lt;/script&gt;</p>"
            '<img src="cid:bieu-do" alt="Biểu đồ"></body></html>'
        ),
        encoding="utf-8",
    )
    files["txt"].write_text("ĐIỂM TIN BÁO CHÍ\nLũ ở Vĩnh Long\n", encoding="utf-8")
    files["docx"].write_bytes(b"PK\x03\x04 a docx stand-in")
    files["png"].write_bytes(tiny_png())
    start = dt.datetime(2025, 7, 14, 7, tzinfo=TZ)
    with factory() as session:
        row = Digest(
            profile=profile,
            date=DAY,
            year=2025,
            number=7,
            window_start=start,
            window_end=start + dt.timedelta(days=1),
            files={k: str(v) for k, v in files.items()},
        )
        session.add(row)
        session.commit()
        return row.id


def settings_for(port: int, **smtp):
    cfg = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_addr": "diemtin@sovhttdl.example.vn",
        "retries": 2,
        "retry_backoff": 0.01,
        "timeout": 10,
        **smtp,
    }
    return load_settings(smtp=SmtpSettings(**cfg))


@pytest.fixture
def world(session_factory, tmp_path, smtpd):
    path = write_profile(tmp_path)
    profile, _ = load_profile(path)
    digest_id = make_digest(session_factory, tmp_path)
    return session_factory, profile, settings_for(smtpd.port), digest_id


def send(world, **kw):
    factory, profile, settings, _ = world
    kw.setdefault("subject", SUBJECT)
    return send_digest(factory, settings, profile, "vinh_long", DAY, **kw)


# ── the message ──────────────────────────────────────────────────────────────────────────────


def test_one_message_per_recipient_with_parts_attachments_and_vietnamese_subject(world, smtpd):
    factory, _, _, digest_id = world
    result = send(world)
    assert result.exit_code == 0 and result.status == "sent"
    assert sorted(result.sent) == sorted(RECIPIENTS)
    assert sorted(r for rcpts, _ in smtpd.messages for r in rcpts) == sorted(ADDRS)
    assert all(len(rcpts) == 1 for rcpts, _ in smtpd.messages)

    ids = set()
    for (rcpts, msg), (_, raw) in zip(smtpd.parsed(), smtpd.messages, strict=True):
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii() and b"=?utf-8?" in head.lower()  # RFC 2047 on the wire
        raw_subject = email.message_from_bytes(raw, policy=email.policy.compat32)["Subject"]
        assert str(make_header(decode_header(raw_subject))) == SUBJECT
        assert msg["Subject"] == SUBJECT
        raw_from = email.message_from_bytes(raw, policy=email.policy.compat32)["From"]
        assert str(make_header(decode_header(raw_from))).startswith(f"{AGENCY} <diemtin@")
        assert rcpts[0] in str(msg["To"])
        assert b"\r\nMessage-ID: <diemtin.20250715." in head  # on one line
        ids.add(msg["Message-ID"].strip())
        assert msg.get_content_type() == "multipart/mixed"
        alternative = msg.get_payload()[0]
        assert alternative.get_content_type() == "multipart/alternative"
        text, related = alternative.get_payload()
        assert text.get_content_type() == "text/plain"
        assert "Lũ ở Vĩnh Long" in text.get_content()
        assert related.get_content_type() == "multipart/related"
        html, image = related.get_payload()
        assert html.get_content_type() == "text/html" and "cid:bieu-do" in html.get_content()
        assert image["Content-ID"] == "<bieu-do>" and image.get_content_type() == "image/png"
        attached = {p.get_filename(): p for p in msg.iter_attachments()}
        assert set(attached) == {"diem-tin-2025-07-15.docx", "bieu-do-2025-07-15.png"}
        docx = attached["diem-tin-2025-07-15.docx"]
        assert docx.get_content_type().endswith("wordprocessingml.document")
        assert docx.get_content() == b"PK\x03\x04 a docx stand-in"
        assert attached["bieu-do-2025-07-15.png"].get_content() == tiny_png()
    assert len(ids) == 3  # one Message-ID per recipient

    with factory() as session:
        rows = ledger(session, digest_id)
        assert {r.status for r in rows} == {"sent"}
        assert all(r.attempts == 1 and r.sent_at is not None for r in rows)
        assert {r.message_id for r in rows} == ids
        assert session.get(Digest, digest_id).status == "sent"


def test_a_second_send_sends_nothing_and_resend_is_explicit(world, smtpd):
    factory, _, _, digest_id = world
    first = send(world)
    assert len(smtpd.messages) == 3
    again = send(world)
    assert again.sent == [] and again.failed == {} and again.exit_code == 0
    assert sorted(again.already) == sorted(RECIPIENTS)
    assert len(smtpd.messages) == 3

    resent = send(world, resend=True)
    assert resent.resend == 1 and sorted(resent.sent) == sorted(first.sent)
    assert len(smtpd.messages) == 6
    with factory() as session:
        rows = ledger(session, digest_id)
    assert sorted((r.resend, r.status) for r in rows) == [(0, "sent")] * 3 + [(1, "sent")] * 3
    # A resend is a new message (its own Message-ID), the same for a retried resend.
    assert len({r.message_id for r in rows}) == 6
    send(world)
    assert len(smtpd.messages) == 6


def test_message_id_is_deterministic_per_digest_recipient_and_resend(session_factory, tmp_path):
    from digest.smtp import message_id

    a = message_id("diemtin", "20250715", "p", 7, 0, recipient="A <x@y.vn>", domain="d.vn")
    assert a == message_id("diemtin", "20250715", "p", 7, 0, recipient="x@Y.vn", domain="d.vn")
    assert a != message_id("diemtin", "20250715", "p", 7, 1, recipient="x@y.vn", domain="d.vn")
    assert a != message_id("diemtin", "20250715", "p", 7, 0, recipient="z@y.vn", domain="d.vn")
    assert a.startswith("<diemtin.20250715.") and a.endswith("@d.vn>")


def test_a_recipient_added_later_gets_it_and_nobody_else_again(world, smtpd, tmp_path):
    factory, _, settings, _ = world
    send(world)
    more = [*RECIPIENTS, "Lê Văn Bình <binh@tinhuy.example.vn>"]
    profile, _ = load_profile(write_profile(tmp_path, more))
    result = send_digest(factory, settings, profile, "vinh_long", DAY, subject=SUBJECT)
    assert result.sent == ["Lê Văn Bình <binh@tinhuy.example.vn>"]
    assert len(smtpd.messages) == 4


# ── refusals, retries, exit codes ────────────────────────────────────────────────────────────


def test_permanent_refusal_leaves_a_failure_record_then_a_later_run_delivers(world, smtpd):
    factory, _, _, digest_id = world
    smtpd.data_reply = "554 5.7.1 rejected"
    result = send(world)
    assert result.exit_code == 1 and result.permanent and result.status == "failed"
    assert smtpd.messages == []
    with factory() as session:
        rows = ledger(session, digest_id)
        assert {r.status for r in rows} == {"failed"}
        assert all("554 5.7.1 rejected" in r.last_error for r in rows)
        assert all(r.attempts == 1 for r in rows)  # a permanent refusal is not retried
        assert session.get(Digest, digest_id).status == "failed"

    smtpd.data_reply = None
    later = send(world)
    assert later.exit_code == 0 and sorted(later.sent) == sorted(RECIPIENTS)
    assert sorted(r[0] for r, _ in smtpd.messages) == sorted(ADDRS)
    with factory() as session:
        rows = ledger(session, digest_id)
        assert {r.status for r in rows} == {"sent"} and all(r.attempts == 2 for r in rows)
        assert all(r.last_error is None for r in rows)
        assert session.get(Digest, digest_id).status == "sent"


def test_transient_refusal_is_retried_with_backoff(world, smtpd):
    factory, _, _, digest_id = world
    smtpd.refuse_times = 2  # the first recipient: 451, 451, then accepted
    waits: list[float] = []
    result = send(world, sleep=waits.append)
    assert result.exit_code == 0 and len(smtpd.messages) == 3
    assert waits == [0.01, 0.02]
    with factory() as session:
        attempts = sorted(r.attempts for r in ledger(session, digest_id))
    assert attempts == [1, 1, 3]


def test_transient_failures_left_for_the_next_run_exit_75(world, smtpd):
    factory, _, _, digest_id = world
    smtpd.refuse_times = 100
    result = send(world, sleep=lambda s: None)
    assert result.exit_code == 75 and not result.permanent
    assert set(result.failed) == set(RECIPIENTS)
    with factory() as session:
        rows = ledger(session, digest_id)
        tried = [r for r in rows if r.attempts]
        assert len(tried) == 1 and tried[0].attempts == 3 and "451" in tried[0].last_error
        untried = [r for r in rows if not r.attempts]
        assert all(r.last_error.startswith("chưa thử") for r in untried)
    smtpd.refuse_times = 0
    assert send(world).exit_code == 0
    assert len(smtpd.messages) == 3


def test_server_down_then_up(session_factory, tmp_path, smtpd):
    profile, _ = load_profile(write_profile(tmp_path))
    make_digest(session_factory, tmp_path)
    down = settings_for(free_port())
    result = send_digest(
        session_factory, down, profile, "vinh_long", DAY, subject=SUBJECT, sleep=lambda s: None
    )
    assert result.exit_code == 75 and "từ chối kết nối" in next(iter(result.failed.values()))
    up = settings_for(smtpd.port)
    assert send_digest(session_factory, up, profile, "vinh_long", DAY).exit_code == 0
    assert len(smtpd.messages) == 3


def test_html_is_made_inert_even_if_the_builder_let_a_script_through(
    session_factory, tmp_path, smtpd
):
    assert inert_html("<p>a</p><SCRIPT>x()</script>") == "<p>a</p>&lt;SCRIPT>x()&lt;/script>"
    profile, _ = load_profile(write_profile(tmp_path, RECIPIENTS[:1]))
    make_digest(session_factory, tmp_path, html="<p>Tin</p><script>alert(1)</script>")
    send_digest(session_factory, settings_for(smtpd.port), profile, "vinh_long", DAY)
    ((_, msg),) = smtpd.parsed()
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html.lower() and "&lt;script>alert(1)" in html


# ── authentication and TLS ───────────────────────────────────────────────────────────────────


def _auth_server(handler, **kw):
    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            text(auth_data.login),
            text(auth_data.password),
        ) == ("diemtin", "mật-khẩu-đúng")
        return AuthResult(success=ok, handled=False)

    return Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=check,
        auth_required=True,
        auth_require_tls=False,
        **kw,
    )


def test_login_with_the_password_from_the_secrets_file(session_factory, tmp_path):
    handler = Recorder()
    controller = _auth_server(handler)
    controller.start()
    try:
        profile, _ = load_profile(write_profile(tmp_path, RECIPIENTS[:2]))
        digest_id = make_digest(session_factory, tmp_path)
        secret = tmp_path / "smtp-password"
        secret.write_text("sai-mật-khẩu\n", encoding="utf-8")
        wrong = settings_for(controller.port, user="diemtin", secrets_file=secret)
        result = send_digest(session_factory, wrong, profile, "vinh_long", DAY)
        assert result.exit_code == 1 and result.permanent and handler.messages == []
        with session_factory() as session:
            rows = ledger(session, digest_id)
        assert "đăng nhập SMTP bị từ chối: 535" in rows[0].last_error
        assert rows[1].last_error.startswith("chưa thử") and rows[1].attempts == 0

        secret.write_text("mật-khẩu-đúng\n", encoding="utf-8")
        right = settings_for(controller.port, user="diemtin", secrets_file=secret)
        assert send_digest(session_factory, right, profile, "vinh_long", DAY).exit_code == 0
        assert len(handler.messages) == 2
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return d / "cert.pem", d / "key.pem"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_starttls_and_ssl_check_the_certificate(
    security, session_factory, tmp_path, tls_files, monkeypatch
):
    import ssl

    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handler = Recorder()
    if security == "starttls":
        controller = _auth_server(handler, tls_context=context, require_starttls=True)
    else:
        controller = _auth_server(handler, ssl_context=context)
    controller.start()
    try:
        profile, _ = load_profile(write_profile(tmp_path, RECIPIENTS[:1]))
        digest_id = make_digest(session_factory, tmp_path)
        settings = settings_for(
            controller.port, security=security, user="diemtin", password="mật-khẩu-đúng"
        )
        # Not trusted yet: a permanent failure, nothing sent.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
        result = send_digest(session_factory, settings, profile, "vinh_long", DAY)
        assert result.exit_code == 1 and handler.messages == []
        with session_factory() as session:
            assert "chứng chỉ" in ledger(session, digest_id)[0].last_error
        # The office's own CA: delivered over TLS, with the login.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert send_digest(session_factory, settings, profile, "vinh_long", DAY).exit_code == 0
        assert len(handler.messages) == 1
    finally:
        controller.stop()


# ── the command line, the real builder, and a kill between the messages ──────────────────────


@functools.cache
def cli_command() -> list[str]:
    """`python -m diemtin` once diemtin/cli.py registers the digest commands; until then the
    same app with them registered by diemtin.digest_cli. (Asked of a fresh interpreter: this
    one may have registered them itself.)"""
    probe = "from diemtin.cli import app; print(getattr(app, '_diemtin_digest_registered', 0))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    if out.stdout.strip() == "True":
        return [sys.executable, "-m", "diemtin"]
    return [sys.executable, "-m", "diemtin.digest_cli"]


def cli_app():
    from diemtin.cli import app
    from diemtin.digest_cli import register

    register(app)
    return app


def test_cli_send_exit_codes(world, smtpd, tmp_path):
    runner = CliRunner()
    app = cli_app()
    env = {
        "DIEMTIN_SMTP_HOST": "127.0.0.1",
        "DIEMTIN_SMTP_PORT": str(smtpd.port),
        "DIEMTIN_SMTP_SECURITY": "none",
        "DIEMTIN_SMTP_RETRY_BACKOFF": "0",
    }
    factory, _, _, _ = world
    url = str(factory.kw["bind"].url.render_as_string(hide_password=False))
    args = ["--database-url", url, "digest", "send", "-p", str(tmp_path / "vinh_long.yaml")]
    args += ["--date", "2025-07-15"]
    smtpd.data_reply = "554 5.7.1 rejected"
    out = runner.invoke(app, args, env=env)
    assert out.exit_code == 1, out.output
    assert "554 5.7.1 rejected" in out.output
    smtpd.data_reply = None
    out = runner.invoke(app, args, env=env)
    assert out.exit_code == 0, out.output
    assert len(smtpd.messages) == 3
    out = runner.invoke(app, args, env=env)
    assert out.exit_code == 0 and "không gửi thêm" in out.output
    assert len(smtpd.messages) == 3
    show = runner.invoke(app, [*args[:3], "show", *args[4:]], env=env)
    assert show.exit_code == 0, show.output
    assert "Lũ ở Vĩnh Long" in show.output and "đã gửi" in show.output


def test_killed_between_messages_then_rerun_sends_exactly_once(smtpd, tmp_path, sqlite_url):
    """`digest build` in one process; `digest send` in another, SIGKILLed while the server holds
    the second message; a re-run delivers the rest: one message per recipient, no more."""
    pytest.importorskip("digest.build")
    profile_path = write_profile(tmp_path)
    env = {
        **os.environ,
        "DIEMTIN_DATABASE_URL": sqlite_url,
        "DIEMTIN_SMTP_HOST": "127.0.0.1",
        "DIEMTIN_SMTP_PORT": str(smtpd.port),
        "DIEMTIN_SMTP_SECURITY": "none",
        "DIEMTIN_SMTP_RETRIES": "0",
    }
    cmd = cli_command()
    build = subprocess.run(
        [*cmd, "digest", "build", "-p", str(profile_path), "--date", "2025-07-15"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    paths = dict(line.split("\t", 1) for line in build.stdout.splitlines() if "\t" in line)
    assert {"html", "txt", "docx", "png"} <= set(paths) and all(
        Path(p).exists() for p in paths.values()
    )

    send_cmd = [*cmd, "digest", "send", "-p", str(profile_path), "--date", "2025-07-15"]
    smtpd.stall_on = 2  # hold the second message at RCPT until the sender is gone
    proc = subprocess.Popen(
        send_cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert smtpd.stalled.wait(120), "the sender never reached the second message"
        assert len(smtpd.messages) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    smtpd.release.set()
    assert proc.returncode == -signal.SIGKILL

    from store.db import open_store

    factory = open_store(sqlite_url)
    with factory() as session:
        digest = find_digest(session, "vinh_long", DAY)
        assert digest.status == "sending"
        rows = ledger(session, digest.id)
        assert sorted(r.status for r in rows) == ["pending", "pending", "sent"]
        assert sorted(r.attempts for r in rows) == [0, 1, 1]

    for _ in range(2):  # the re-run delivers the rest; one more run sends nothing
        again = subprocess.run(
            send_cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stdout + again.stderr
    delivered = sorted(r for rcpts, _ in smtpd.messages for r in rcpts)
    assert delivered == sorted(ADDRS)
    with factory() as session:
        digest = find_digest(session, "vinh_long", DAY)
        assert digest.status == "sent"
        assert {r.status for r in ledger(session, digest.id)} == {"sent"}
        assert session.scalar(select(Delivery.id).where(Delivery.resend > 0)) is None
    factory.kw["bind"].dispose()


# ── the real builder: scraped markup arrives inert ───────────────────────────────────────────

SCRIPT_TITLE = 'Sạt lở bờ sông ở Vĩnh Long <script>alert("x")</script> <img src=x onerror=alert(1)>'


def store_item(factory, title: str, *, profile="vinh_long", sensitivity="nhay_cam", **cls):
    """One source, story, item and classification, published inside DAY's window."""
    import hashlib

    from store.models import Classification, Item, Source, Story

    when = dt.datetime(2025, 7, 14, 20, 15, tzinfo=TZ)
    with factory() as s:
        src = s.scalar(select(Source).where(Source.name == "baovinhlong"))
        if src is None:
            src = Source(
                name="baovinhlong",
                title="Báo Vĩnh Long",
                profile=profile,
                kind="press_local",
                language="vi",
                fetch_type="feed",
                urls=["https://baovinhlong.example/rss"],
            )
            s.add(src)
            s.flush()
        story = Story(
            title=title,
            first_seen=when,
            last_seen=when,
            outlets=["baovinhlong"],
            spread=[["baovinhlong", when.isoformat()]],
        )
        s.add(story)
        s.flush()
        item = Item(
            url=f"https://baovinhlong.example/{hashlib.sha1(title.encode()).hexdigest()[:8]}.html",
            source_id=src.id,
            kind="press_local",
            language="vi",
            title=title,
            text=(
                "Sáng 14/7, một đoạn bờ sông dài 30 m ở tỉnh Vĩnh Long bị sạt lở. "
                "Chính quyền đã di dời 5 hộ dân. Nguyên nhân đang được xác định."
            ),
            published_at=when,
            content_hash=hashlib.sha256(title.encode()).hexdigest(),
            title_key=hashlib.sha1(title.lower().encode()).hexdigest(),
        )
        s.add(item)
        s.flush()
        s.add(
            Classification(
                item_id=item.id,
                relevant=True,
                relevance=0.9,
                places=[{"name": "Tỉnh Vĩnh Long", "level": "province", "named": True}],
                story_id=story.id,
                topics={"tai_nan_thien_tai": 0.9},
                tone="tieu_cuc",
                sensitivity=sensitivity,
                sensitivity_reasons=[f"{sensitivity}: thử"] if sensitivity != "binh_thuong" else [],
                model_version="test",
                **cls,
            )
        )
        s.commit()
        return item.id, story.id


def test_a_script_in_a_title_arrives_inert_in_the_email(session_factory, tmp_path, smtpd):
    pytest.importorskip("digest.build")
    import io
    import zipfile

    store_item(session_factory, SCRIPT_TITLE)
    profile, _ = load_profile(write_profile(tmp_path, RECIPIENTS[:1]))
    result = send_digest(session_factory, settings_for(smtpd.port), profile, "vinh_long", DAY)
    assert result.built and result.exit_code == 0
    ((_, msg),) = smtpd.parsed()
    assert msg["Subject"].startswith("Điểm tin báo chí số 1/2025 ngày 15/07/2025")
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html.lower() and "<img src=x" not in html.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", html)  # no tag with an event handler
    assert "&lt;script&gt;" in html
    text = msg.get_body(("plain",)).get_content()
    assert 'Sạt lở bờ sông ở Vĩnh Long <script>alert("x")</script>' in text  # shown, as text
    assert "&lt;" not in text
    docx = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".docx"))
    with zipfile.ZipFile(io.BytesIO(docx.get_content())) as z:
        body = z.read("word/document.xml").decode("utf-8")
    assert "<script" not in body and "&lt;script&gt;" in body


def test_cli_build_prints_the_paths_and_copies_them_with_out(tmp_path, sqlite_url):
    pytest.importorskip("digest.build")
    profile = write_profile(tmp_path)
    out = tmp_path / "ban-in"
    result = CliRunner().invoke(
        cli_app(),
        ["--database-url", sqlite_url, "digest", "build", "-p", str(profile), "-d", "15/07/2025"],
    )
    assert result.exit_code == 0, result.output
    archived = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
    assert {"html", "txt", "docx", "png"} <= set(archived)
    again = CliRunner().invoke(
        cli_app(),
        ["--database-url", sqlite_url, "digest", "build", "-p", str(profile)]
        + ["--date", "2025-07-15", "--out", str(out)],
    )
    assert again.exit_code == 0, again.output
    copied = dict(line.split("\t", 1) for line in again.stdout.splitlines() if "\t" in line)
    assert set(copied) == set(archived)
    assert all(Path(p).parent == out.resolve() and Path(p).exists() for p in copied.values())
    bad = CliRunner().invoke(cli_app(), ["digest", "build", "-p", str(profile), "-d", "hôm kia"])
    assert bad.exit_code == 2

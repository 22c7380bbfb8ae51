"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
`diemtin demo` crawls, classifies and builds today's digest; accounts are made with
`diemtin users add`; `diemtin web` serves the app; an officer signs in, filters the queue, opens
the demo's misleading rumour, sees its evidence and records a decision with a proposed handling;
a lead approves the digest and sends it, and it arrives at a real SMTP server (aiosmtpd) with
that handling in it. Screenshots at 1280 and 375 px are kept in the test's directory."""

from __future__ import annotations

import datetime as dt
import email
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OFFICER = ("lan", "Nguyễn Thị Lan", "hoa-sen-nở-giữa-đồng-tháp")
LEAD = ("phuc", "Lê Hoàng Phúc", "cầu-mỹ-thuận-bắc-qua-sông")
HANDLING = (
    "Đề nghị Sở Nông nghiệp và Môi trường đăng tin cải chính trên cổng thông tin tỉnh; "
    "Công an tỉnh xác minh tài khoản tung tin đê biển Cầu Ngang bị vỡ."
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


if not CHROMIUM.exists():
    if _in_ci():
        pytest.fail(f"{CHROMIUM} is absent: .ci/apt-packages must list chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)", allow_module_level=True)
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    if _in_ci():
        pytest.fail("the Python package 'playwright' is not installed", pytrace=False)
    pytest.skip("the Python package 'playwright' is not installed", allow_module_level=True)

from aiosmtpd.controller import Controller  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def diemtin(data_dir: Path, *args: str, env: dict | None = None, input: str | None = None):
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("DIEMTIN_")}
    run_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "diemtin", "--data-dir", str(data_dir), *args],
        cwd=ROOT,
        env=run_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo's store with two accounts, `diemtin web` on a free port, and an SMTP server."""
    data = tmp_path_factory.mktemp("kho")
    demo = diemtin(data, "demo", "--port", "0")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    password = re.search(r"tài khoản demo, mật khẩu (\S+)", demo.stdout)
    assert password, demo.stdout[-2000:]
    for (username, name, secret), role in ((OFFICER, "officer"), (LEAD, "lead")):
        r = diemtin(
            data,
            "users",
            "add",
            username,
            "--role",
            role,
            "--name",
            name,
            "--password-stdin",
            input=secret + "\n",
        )
        assert r.returncode == 0, r.stdout + r.stderr
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    env = {
        "DIEMTIN_SMTP_HOST": "127.0.0.1",
        "DIEMTIN_SMTP_PORT": str(smtp.port),
        "DIEMTIN_SMTP_SECURITY": "none",
        "DIEMTIN_SMTP_FROM_ADDR": "diemtin@demo.vinhlong.local",
    }
    web_env = {k: v for k, v in os.environ.items() if not k.startswith("DIEMTIN_")}
    web_env.update(env)
    web = subprocess.Popen(
        [sys.executable, "-m", "diemtin", "--data-dir", str(data), "web", "--port", str(port)],
        cwd=ROOT,
        env=web_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if web.poll() is not None:
                    pytest.fail("diemtin web ended: " + (web.stdout.read() if web.stdout else ""))
                time.sleep(0.1)
        else:
            pytest.fail("diemtin web did not answer")
        yield base, inbox, data, password.group(1), digest_days(data)
    finally:
        web.terminate()
        try:
            web.wait(timeout=10)
        except subprocess.TimeoutExpired:
            web.kill()
        smtp.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def sign_in(page, base: str, username: str, password: str, start: str = "/queue") -> None:
    page.goto(base + start)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(re.compile(re.escape(start)))


def shoot(page, out: Path, name: str) -> None:
    """A full-page screenshot at the page's width, and no sideways scrolling."""
    width = page.viewport_size["width"]
    page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
    over = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert over <= 1, f"{name} at {width}px scrolls sideways by {over}px"


def digest_days(data: Path) -> dict[int, dt.date]:
    """Each misleading item's digest day: the day D whose window, 07:00 the day before → 07:00
    on D (the demo profile's), holds its publication time. The demo dates its items around the
    moment it runs, so the rumour's day depends on the time of day the test runs."""
    from sqlalchemy import select

    from store.db import open_store
    from store.models import Classification, Item

    factory = open_store(f"sqlite:///{data / 'diemtin.db'}")
    with factory() as s:
        rows = s.execute(
            select(Item.id, Item.published_at, Item.fetched_at)
            .join(Classification, Classification.item_id == Item.id)
            .where(Classification.misleading == "sai_lech")
        ).all()
    factory.kw["bind"].dispose()
    out = {}
    for item_id, published, fetched in rows:
        local = (published or fetched).astimezone(VN)
        out[item_id] = (local - dt.timedelta(hours=7)).date() + dt.timedelta(days=1)
    assert out, "the demo has no misleading item"
    return out


def message_text(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def test_officer_decides_and_lead_approves_and_sends(site, browser, tmp_path):
    base, inbox, _data, _demo_password, days = site
    shots = tmp_path
    # ── the officer: sign in, filter the queue, open the rumour, decide ──
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, base, OFFICER[0], OFFICER[2])
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hàng chờ")
    shoot(page, shots, "hang-cho")
    page.get_by_label("Sai lệch").select_option("sai_lech")
    page.get_by_role("button", name="Lọc").click()
    expect(page).to_have_url(re.compile(r"misleading=sai_lech"))
    links = page.locator("table a[href^='/items/']")
    expect(links.first).to_be_visible()
    # The dyke-breach rumour (the demo's expected.RUMOUR).
    rows = [
        (links.nth(i).get_attribute("href"), links.nth(i).inner_text())
        for i in range(links.count())
    ]
    dyke = [h for h, t in rows if re.search("vỡ đê", t, re.I)]
    assert dyke, rows
    rumour = page.locator(f"table a[href='{dyke[0]}']")
    day = days[int(dyke[0].rsplit("/", 1)[-1])]
    # Every row left is a misleading one.
    badges = page.locator("table tbody tr .badge.sai_lech")
    assert badges.count() >= page.locator("table tbody tr").count() >= 1
    rumour.first.click()
    expect(page).to_have_url(re.compile(r"/items/\d+$"))
    item_url = page.url
    # The evidence: the contradicting official statement, the places, the lexicon.
    evidence = page.locator(
        "section", has=page.get_by_role("heading", name=re.compile("Bằng chứng sai lệch"))
    )
    expect(evidence).to_contain_text("bác bỏ")
    statement = evidence.locator("a[href^='/items/']").first
    expect(statement).to_be_visible()
    expect(page.get_by_role("heading", name="Địa danh khớp")).to_be_visible()
    expect(
        page.locator("mark").filter(has_text=re.compile("Cầu Ngang", re.I)).first
    ).to_be_visible()
    shoot(page, shots, "tin")
    page.get_by_label("Xác nhận cảnh báo").check()
    page.get_by_label("Đề xuất xử lý").fill(HANDLING)
    page.get_by_label("Trạng thái").select_option("dang_xu_ly")
    page.get_by_role("button", name="Ghi quyết định").click()
    expect(page.get_by_text(re.compile("Đã ghi quyết định"))).to_be_visible()
    expect(page.locator("body")).to_contain_text("Công an tỉnh xác minh tài khoản")
    # A phone sees the same page without sideways scrolling.
    phone = browser.new_context(
        viewport={"width": 375, "height": 812}, locale="vi-VN", storage_state=ctx.storage_state()
    )
    p2 = phone.new_page()
    for path, name in (
        ("/queue", "hang-cho"),
        (item_url.removeprefix(base), "tin"),
        ("/desk", "ban-tin"),
    ):
        p2.goto(base + path)
        shoot(p2, shots, name)
    phone.close()
    # An officer cannot approve.
    page.goto(base + "/desk")
    shoot(page, shots, "ban-tin")
    expect(page.get_by_role("button", name=re.compile("Duyệt"))).to_have_count(0)
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile("/login"))
    ctx.close()

    # ── the lead: the draft carries the decision; approve, send ──
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, base, LEAD[0], LEAD[2], start=f"/desk?day={day.isoformat()}")
    make = page.get_by_role("button", name="Tạo bản nháp")
    if make.count():  # the demo built today's digest only
        make.click()
    expect(page.locator("main")).to_contain_text("Công an tỉnh xác minh tài khoản")
    page.get_by_role("button", name=re.compile("^Duyệt")).first.click()
    expect(page.locator("main")).to_contain_text(re.compile("Đã duyệt"))
    page.get_by_role("button", name=re.compile("^Gửi")).first.click()
    expect(page.locator("main")).to_contain_text(re.compile("Đã gửi"))
    shoot(page, shots, "ban-tin-da-gui")
    ctx.close()
    assert len(inbox.messages) == 2  # the demo profile's two recipients, once each
    rcpts = sorted(r for rcpt, _ in inbox.messages for r in rcpt)
    assert rcpts == ["lanhdao.tinhuy@demo.vinhlong.local", "vanphong.ubnd@demo.vinhlong.local"]
    for _, raw in inbox.messages:
        body = message_text(raw)
        assert "Công an tỉnh xác minh tài khoản tung tin đê biển Cầu Ngang bị vỡ" in body

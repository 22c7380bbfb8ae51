"""The digest's HTML in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright for Python; Playwright never downloads a browser here) at a phone's width (375 px) and
a desktop's (1280 px).

* No horizontal overflow at 375 px, even with a long unbroken address in a social post's title.
* Hostile scraped text (`<script>alert(1)</script>`, `<img src=x onerror=…>`, a `javascript:`
  link) arrives inert: no dialog opens, no script or event-handler element exists, the text is
  shown as text.
* Screenshots of both widths are saved in the test's directory (and in $DIEMTIN_SHOTS_DIR when
  set, to look at them).

Skipped only where there is no Chromium and env CI is unset; in CI (`.ci/run` installs the
packages in `.ci/apt-packages`) a missing browser or driver is a failure.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = dt.date(2026, 11, 20)
WIDTHS = (375, 1280)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


if not CHROMIUM.exists() and not _in_ci():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)", allow_module_level=True)
if not CHROMIUM.exists():
    pytest.fail(f"{CHROMIUM} is absent: .ci/apt-packages must list chromium", pytrace=False)
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    if _in_ci():
        pytest.fail("the Python package 'playwright' is not installed", pytrace=False)
    pytest.skip("the Python package 'playwright' is not installed", allow_module_level=True)

from store.db import open_store  # noqa: E402
from store.models import Classification, Item, Story  # noqa: E402
from store.profile import load_profile  # noqa: E402
from store.queries import sync_sources  # noqa: E402
from store.settings import Settings  # noqa: E402

PROFILE_YAML = """\
province: {code: vinh_long, name: Vĩnh Long, english: Vinh Long, former: [Trà Vinh, Bến Tre]}
agency: "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"
timezone: Asia/Ho_Chi_Minh
sources:
  - {name: baovinhlong, title: Báo Vĩnh Long, kind: press_local, type: feed, weight: 2,
     urls: ["https://baovinhlong.example/rss"]}
  - {name: thvl, title: Đài Phát thanh và Truyền hình Vĩnh Long, kind: press_local, type: feed,
     urls: ["https://thvl.example/rss"]}
  - {name: tuoitre, title: Báo Tuổi Trẻ, kind: press_central, type: feed,
     urls: ["https://tuoitre.example/rss"]}
  - {name: vnexpress, title: VnExpress, kind: press_central, type: feed,
     urls: ["https://vnexpress.example/rss"]}
  - {name: rfa, title: RFA Tiếng Việt, kind: press_foreign, type: feed,
     urls: ["https://rfa.example/rss"]}
  - {name: fbvl, title: "Nhóm Facebook “Vĩnh Long 24h”", kind: social, type: import}
"""

XSS_TITLE = (
    "<script>alert(1)</script>Tin đồn sạt lở nhấn chìm chợ Vĩnh Long <img src=x onerror=alert(2)>"
)
XSS_TEXT = (
    "Một tài khoản Facebook đăng hình ảnh cho rằng chợ Vĩnh Long bị sạt lở hoàn toàn. "
    '<img src=x onerror="alert(3)"> Ủy ban nhân dân phường cho biết thông tin trên sai sự thật. '
    "<script>document.title='hacked';alert(4)</script> Cơ quan chức năng đang xác minh."
)
LONG_URL = "https://www.facebook.com/groups/vinhlong24h/permalink/" + "1234567890" * 8
LEAD = (
    "Sáng 19/11, tỉnh Vĩnh Long khởi công cầu Đình Khao bắc qua sông Cổ Chiên, nối Vĩnh Long "
    "với Bến Tre cũ. Dự án có tổng vốn hơn 1.500 tỉ đồng, dự kiến hoàn thành năm 2028. Lãnh đạo "
    "tỉnh yêu cầu nhà thầu bảo đảm tiến độ, chất lượng và an toàn lao động. Người dân hai bên "
    "bờ sông phấn khởi vì sẽ không còn phải đi phà."
)


def _t(hm: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hm), tzinfo=VN)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small store for one digest day, built with `digest.build.build_digest`."""
    from digest.build import build_digest

    root = tmp_path_factory.mktemp("digest-browser")
    prof_path = root / "vinh_long_thu.yaml"
    prof_path.write_text(PROFILE_YAML, encoding="utf-8")
    prof, problems = load_profile(prof_path)
    assert not problems
    url = f"sqlite:///{root / 'kho.db'}"
    factory = open_store(url)
    n = 0
    with factory() as session:
        src = sync_sources(session, prof_path.stem, prof.sources)
        session.flush()

        def story(title: str, first: dt.datetime, outlets: list[str]) -> Story:
            st = Story(
                title=title,
                first_seen=first,
                last_seen=first,
                item_count=len(outlets),
                outlets=outlets,
                spread=[[o, first.isoformat()] for o in outlets],
            )
            session.add(st)
            session.flush()
            return st

        def item(source, title, text, when, st=None, **labels) -> Item:
            nonlocal n
            n += 1
            it = Item(
                url=labels.pop("url", None) or f"https://{source}.example/tin-{n}.html",
                source_id=src[source].id,
                kind=src[source].kind,
                language="vi",
                title=title,
                text=text,
                published_at=when,
                fetched_at=when + dt.timedelta(minutes=10),
                content_hash=hashlib.sha256(f"{n}{title}".encode()).hexdigest(),
                title_key=hashlib.sha1(f"{n}{title}".encode()).hexdigest()[:16],
            )
            session.add(it)
            session.flush()
            session.add(
                Classification(
                    item_id=it.id,
                    relevant=True,
                    relevance=0.9,
                    places=["Vĩnh Long"],
                    story_id=st.id if st else None,
                    topics=labels.get("topics", {}),
                    tone=labels.get("tone", "trung_lap"),
                    sensitivity=labels.get("sensitivity", "binh_thuong"),
                    misleading=labels.get("misleading", "khong"),
                    misleading_evidence=labels.get("evidence", {}),
                    sensitivity_reasons=labels.get("reasons", []),
                    model_version="test-1",
                )
            )
            return it

        a = story(
            "Khởi công cầu Đình Khao nối Vĩnh Long với Bến Tre",
            _t("07:30", DAY - dt.timedelta(days=1)),
            ["thvl", "tuoitre", "vnexpress", "baovinhlong"],
        )
        for src_name, hm in (
            ("baovinhlong", "06:00"),
            ("thvl", "07:30"),
            ("tuoitre", "09:00"),
            ("vnexpress", "10:15"),
        ):
            item(
                src_name,
                "Khởi công cầu Đình Khao nối Vĩnh Long với Bến Tre",
                LEAD,
                _t(hm, DAY - dt.timedelta(days=1)) if hm >= "07:00" else _t(hm),
                a,
                topics={"dau_tu_kinh_te": 0.95},
                tone="tich_cuc",
            )
        x = story(XSS_TITLE, _t("08:00", DAY - dt.timedelta(days=1)), ["fbvl", "rfa"])
        for src_name, hm in (("fbvl", "08:00"), ("rfa", "12:00")):
            item(
                src_name,
                XSS_TITLE,
                XSS_TEXT,
                _t(hm, DAY - dt.timedelta(days=1)),
                x,
                topics={"tai_nan_thien_tai": 0.9},
                tone="tieu_cuc",
                sensitivity="nhay_cam",
                misleading="sai_lech",
                reasons=["Nhạy cảm: <b>tin sai</b> lan trên mạng xã hội"],
                url="javascript:alert(5)" if src_name == "fbvl" else None,
            )
        item(
            "fbvl",
            f"Người dân phản ánh ngập sâu ở phường 1, Vĩnh Long: xem clip {LONG_URL}",
            f"Clip đăng tại {LONG_URL} cho thấy nước ngập sâu sau mưa lớn. " + LEAD,
            _t("20:00", DAY - dt.timedelta(days=1)),
            topics={"tai_nan_thien_tai": 0.8},
            tone="tieu_cuc",
            sensitivity="can_chu_y",
            misleading="chua_kiem_chung",
        )
        item(
            "tuoitre",
            "Vĩnh Long: lễ hội Ok Om Bok thu hút hàng vạn du khách",
            "Lễ hội Ok Om Bok của đồng bào Khmer diễn ra sôi nổi tại ao Bà Om. " + LEAD,
            _t("15:00", DAY - dt.timedelta(days=1)),
            topics={"du_lich_van_hoa": 0.9, "dan_toc": 0.6},
            tone="tich_cuc",
        )
        item(
            "rfa",
            "Vietnam's Mekong delta province of Vinh Long courts investors",
            "Vinh Long province hopes a new bridge will draw investors to the Mekong delta. "
            "Officials said the project would be finished by 2028.",
            _t("22:00", DAY - dt.timedelta(days=1)),
            topics={"dau_tu_kinh_te": 0.7},
        )
        session.commit()
    settings = Settings(data_dir=root / "data", database_url=url, config_dir=root)
    try:
        result = build_digest(factory, prof, prof_path.stem, DAY, settings, now=_t("07:05"))
        yield result
    finally:
        factory.kw["bind"].dispose()


def _pages(result, folder: Path) -> dict[str, Path]:
    """The e-mail body as archived (chart as cid:), and a preview with the chart inlined."""
    from digest.render import render_html

    out = {"email": Path(result.files["html"])}
    png = result.files.get("png") or result.files.get("chart")
    src = None
    if png and Path(png).exists():
        src = "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode()
    preview = folder / "xem-truoc.html"
    preview.write_text(render_html(result.data, image_src=src), encoding="utf-8")
    out["preview"] = preview
    return out


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


PROBE = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  scripts: document.querySelectorAll('script').length,
  handlers: Array.from(document.querySelectorAll('*')).filter(
      el => Array.from(el.attributes).some(a => a.name.toLowerCase().startsWith('on'))).length,
  imgs: Array.from(document.images).map(i => i.getAttribute('src')),
  jsLinks: Array.from(document.querySelectorAll('a[href]')).filter(
      a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript:')).length,
  text: document.body.innerText,
  title: document.title,
  wide: Array.from(document.querySelectorAll('body *')).filter(
      el => el.getBoundingClientRect().right > window.innerWidth + 1).map(
      el => el.tagName + '.' + el.className).slice(0, 10),
})"""


def test_digest_in_chromium(built, browser, tmp_path):
    assert "html" in built.files
    shots = [tmp_path]
    if os.environ.get("DIEMTIN_SHOTS_DIR"):
        shots.append(Path(os.environ["DIEMTIN_SHOTS_DIR"]))
    pages = _pages(built, tmp_path)
    for folder in shots[1:]:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(pages["preview"], folder / pages["preview"].name)
    dialogs: list[str] = []
    requests: list[str] = []
    for name, path in pages.items():
        for width in WIDTHS:
            ctx = browser.new_context(
                viewport={"width": width, "height": 900}, java_script_enabled=True
            )
            page = ctx.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # time for any onerror handler to have fired
            probe = page.evaluate(PROBE)
            where = f"{name} at {width}px"
            assert probe["scripts"] == 0, where
            assert probe["handlers"] == 0, where
            assert probe["jsLinks"] == 0, where
            assert "x" not in probe["imgs"], where
            assert probe["title"] != "hacked", where
            # The hostile title is shown, as text.
            assert "Tin đồn sạt lở nhấn chìm chợ Vĩnh Long" in probe["text"], where
            assert "Khởi công cầu Đình Khao" in probe["text"], where
            if width == 375:
                assert probe["scrollWidth"] <= probe["innerWidth"], (where, probe["wide"])
            else:
                assert probe["scrollWidth"] <= probe["innerWidth"], where
            shot = tmp_path / f"diem-tin-{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            for folder in shots[1:]:
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, folder / shot.name)
            ctx.close()
    assert dialogs == []
    # Nothing fetched but the page, inline data and the chart by Content-ID (no "x").
    assert all(u.startswith(("file://", "data:", "cid:")) for u in requests), requests


def test_hostile_text_escaped_in_html_source(built):
    """The archived e-mail body carries the hostile text only as escaped text: no script
    element, no event-handler attribute, no javascript: address, whatever a browser does."""
    import lxml.html

    source = Path(built.files["html"]).read_text(encoding="utf-8")
    tree = lxml.html.document_fromstring(source)
    assert tree.xpath("//script") == []
    assert [
        el.tag for el in tree.iter() if any(a.lower().startswith("on") for a in el.attrib)
    ] == []
    hrefs = [a.get("href", "") for a in tree.xpath("//a[@href]")]
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    assert [i.get("src") for i in tree.xpath("//img")] == ["cid:bieu-do"] or all(
        i.get("src", "").startswith("cid:") for i in tree.xpath("//img")
    )
    # Shown as text (the cleaner may trim a leading "<"), never as markup.
    text = tree.text_content()
    assert "alert(1)</script>Tin đồn sạt lở nhấn chìm chợ Vĩnh Long" in text
    assert "<img src=x onerror=alert(2)>" in text

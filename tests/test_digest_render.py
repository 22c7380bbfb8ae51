"""Rendering the digest: scraped HTML arrives inert in every format, the e-mail HTML needs nothing
outside itself, the DOCX is an A4 administrative document in Times New Roman, the chart is a small
PNG with Vietnamese labels."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import lxml.html
import pytest
from docx import Document
from docx.shared import Mm, Pt

from digest.build import agency_code, agency_lines
from digest.model import DayCounts
from digest.render import render_chart, render_docx, render_html, render_text, signed, subject
from digest.select import clean_title, outlet_name, safe_url

sys.path.insert(0, str(Path(__file__).parent))
from test_digest_build import DAY, LEAD, World, vn  # noqa: E402

EVIL_TITLE = '<script>alert("xss")</script>Vĩnh Long <img src=x onerror=alert(1)> khánh thành cầu'
EVIL_TEXT = (
    "<b>Sáng nay</b> tỉnh Vĩnh Long khánh thành cầu <a href='javascript:evil()'>Rạch Miễu 2</a>. "
    "<iframe src='https://evil.example/'></iframe> Cầu dài 3,4 km nối hai bờ sông Tiền. "
    '<img src="https://tracker.example/pixel.gif" onerror="steal()"> Công trình giúp giảm ùn tắc.'
)


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.factory.kw["bind"].dispose()


@pytest.fixture
def evil(world):
    """A digest whose every field a page or an officer can fill carries markup."""
    bad = world.item(
        "baovinhlong",
        EVIL_TITLE,
        EVIL_TEXT,
        vn(DAY, 1),
        url="javascript:alert(document.cookie)",
        tone="tieu_cuc",
        sensitivity="nhay_cam",
    )
    world.item(
        "diendan",
        "Bài có địa chỉ dữ liệu <svg onload=alert(2)>",
        "Nội dung bình thường về tỉnh Vĩnh Long, đủ dài để làm tóm tắt cho bài viết này.",
        vn(DAY, 2),
        url="data:text/html,<script>alert(3)</script>",
    )
    world.item(
        "nhandan",
        "Tin có địa chỉ rất dài",
        LEAD,
        vn(DAY, 3),
        url="https://nhandan.example/" + "duong-dan-rat-dai-" * 20 + "bai.html?utm_source=x&a=1",
    )
    world.decide(
        bad,
        "confirm",
        handling='Giao Sở Xây dựng <img src=x onerror="alert(4)"> trả lời báo chí',
        note="<script>document.location='https://evil.example/'</script>",
    )
    return world.build()


def _docx_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


# ── inert everywhere ─────────────────────────────────────────────────────────────────────────


def test_script_in_a_title_is_inert_in_html(evil):
    html = evil.files["html"].read_text(encoding="utf-8")
    tree = lxml.html.document_fromstring(html)
    assert tree.xpath("//script | //iframe | //object | //embed | //svg | //link | //base") == []
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue  # comments (Outlook's conditional tables)
        assert not [a for a in el.attrib if a.lower().startswith("on")], (el.tag, el.attrib)
    hrefs = tree.xpath("//@href")
    assert hrefs and all(re.match(r"^https?://", h) for h in hrefs), hrefs
    assert tree.xpath("//img/@src") == ["cid:bieu-do"]  # nothing fetched from outside
    body = tree.text_content()
    assert '<script>alert("xss")</script>Vĩnh Long' in body  # shown as text, not run
    assert "<img src=x onerror=alert(1)>" in body
    assert "Giao Sở Xây dựng <img" in body
    assert "javascript:" not in html and "data:text" not in html
    assert "&lt;script&gt;" in html


def test_script_in_a_title_is_inert_in_text(evil):
    text = evil.files["txt"].read_text(encoding="utf-8")
    assert EVIL_TITLE in text  # plain text, printed as it was written
    assert "javascript:" not in text and "data:text" not in text  # only http(s) links
    assert "https://nhandan.example/duong-dan" in text


def test_script_in_a_title_is_inert_in_docx(evil):
    raw = evil.files["docx"].read_bytes()
    doc = Document(io.BytesIO(raw))
    text = _docx_text(doc)
    assert "<script>" in text and EVIL_TITLE in text  # as text
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        xml = z.read("word/document.xml").decode("utf-8")
        rels = z.read("word/_rels/document.xml.rels").decode("utf-8")
    assert "<script" not in xml and "&lt;script&gt;" in xml
    targets = re.findall(r'Target="([^"]+)"\s+TargetMode="External"', rels)
    assert targets and all(t.startswith("https://") for t in targets), targets
    assert "javascript" not in rels and "data:" not in rels


def test_only_http_links_are_links():
    assert safe_url("https://baovinhlong.vn/a.html") == "https://baovinhlong.vn/a.html"
    assert safe_url("HTTP://example.vn/") == "HTTP://example.vn/"
    for bad in (
        "javascript:alert(1)",
        " javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
        "/relative/path",
        "https://example.vn/a b",
        'https://example.vn/"onmouseover="x',
        "https:///nohost",
        None,
        "",
    ):
        assert safe_url(bad) is None, bad


# ── HTML for e-mail and phones ───────────────────────────────────────────────────────────────


def test_html_is_self_contained_table_layout_with_inlined_css(evil):
    html = evil.files["html"].read_text(encoding="utf-8")
    tree = lxml.html.document_fromstring(html)
    assert tree.xpath("//table[@role='presentation']")
    assert tree.xpath("//div") == []  # tables only, as Outlook wants
    # CSS is inlined: styles sit on elements; only the phone @media rule stays in <style>
    styles = tree.xpath("//style")
    assert len(styles) <= 1 and all("@media" in s.text for s in styles)
    assert tree.xpath("//*[@class='e-title']/@style")
    assert "font-family" in tree.xpath("//td")[0].get("style", "")
    # Long addresses never print: outlets are the link texts
    for a in tree.xpath("//a"):
        assert not a.text_content().startswith("http"), a.text_content()
    # Nothing wider than a phone: no fixed widths above 375 px except the chart (scaled) and
    # Outlook's conditional wrapper (a comment)
    for el in tree.xpath("//*[@width]"):
        w = el.get("width")
        assert w.endswith("%") or int(w) <= 375 or el.tag == "img", (el.tag, w)
    img = tree.xpath("//img")[0]
    assert "max-width:100%" in img.get("style").replace(" ", "") or "width:100%" in img.get(
        "style"
    ).replace(" ", "")
    entry_style = tree.xpath("//td[contains(@class,'entry')]")[0].get("style")
    assert "overflow-wrap" in entry_style or "word-break" in entry_style


def test_render_html_can_point_the_chart_elsewhere_for_previews(evil):
    html = render_html(evil.data, image_src="bieu-do.png")
    assert 'src="bieu-do.png"' in html and "cid:" not in html


def test_subject_and_header(evil):
    data = evil.data
    assert subject(data) == "Điểm tin báo chí số 1/2026 ngày 21/11/2026 — Vĩnh Long"
    html = evil.files["html"].read_text(encoding="utf-8")
    text = evil.files["txt"].read_text(encoding="utf-8")
    for out in (html, text):
        assert "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long".upper() in out.upper()
        assert "07:00 20/11/2026" in out and "07:00 21/11/2026" in out
        assert "Thứ Bảy, 21/11/2026" in out
    assert text.startswith(
        "SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH TỈNH VĨNH LONG\nĐIỂM TIN BÁO CHÍ SỐ 1/2026"
    )


def test_empty_day_says_so_in_every_section(world):
    result = world.build()
    text = result.files["txt"].read_text(encoding="utf-8")
    assert text.count("Không có tin.") == 6
    html = result.files["html"].read_text(encoding="utf-8")
    assert html.count("Không có tin.") == 6
    doc = Document(str(result.files["docx"]))
    assert _docx_text(doc).count("Không có tin.") == 6


# ── DOCX ─────────────────────────────────────────────────────────────────────────────────────


def test_docx_is_a4_times_new_roman_with_the_administrative_header(evil):
    doc = Document(str(evil.files["docx"]))
    sec = doc.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(0.5) and abs(sec.page_height - Mm(297)) < Mm(0.5)
    assert sec.left_margin >= Mm(29.9) and sec.right_margin >= Mm(14.9)
    normal = doc.styles["Normal"].font
    assert normal.name == "Times New Roman"
    assert Pt(13) <= normal.size <= Pt(14)
    rfonts = doc.styles["Normal"].element.rPr.rFonts
    assert {rfonts.get(f"{{{rfonts.nsmap['w']}}}{k}") for k in ("ascii", "hAnsi", "cs")} == {
        "Times New Roman"
    }
    for p in doc.paragraphs:
        for r in p.runs:
            assert r.font.name in (None, "Times New Roman")
            assert r.font.size is None or Pt(11) <= r.font.size <= Pt(14)
    header = doc.tables[0]
    left = header.cell(0, 0).text
    right = header.cell(0, 1).text
    assert left.splitlines() == ["SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH", "TỈNH VĨNH LONG"]
    assert right.splitlines() == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert header.cell(1, 0).text == "Số: 1/ĐT-SVHTTDL"
    assert header.cell(1, 1).text == "Vĩnh Long, ngày 21 tháng 11 năm 2026"
    text = _docx_text(doc)
    assert "ĐIỂM TIN BÁO CHÍ" in text
    for heading in (
        "I. THÔNG TIN CẦN XỬ LÝ",
        "II. BÁO CHÍ TRUNG ƯƠNG",
        "III. BÁO CHÍ ĐỊA PHƯƠNG",
        "IV. BÁO CHÍ NƯỚC NGOÀI",
        "V. MẠNG XÃ HỘI",
        "VI. THÔNG TIN TÍCH CỰC CẦN LAN TỎA",
    ):
        assert heading in text
    assert "Đề xuất: Giao Sở Xây dựng" in text
    assert len(doc.inline_shapes) == 1  # the chart


def test_docx_header_follows_the_profile(tmp_path):
    from test_digest_build import PROFILE

    custom = PROFILE.replace(
        '  window_start: "07:00"\n',
        '  window_start: "07:00"\n'
        "  code: ĐT-STTTT\n"
        "  agency_lines: [UBND TỈNH VĨNH LONG, SỞ VH-TT-DL]\n"
        "  place: Long Châu\n"
        "  signer_title: Giám đốc\n"
        "  signer_name: Nguyễn Văn A\n",
    )
    w = World(tmp_path, custom)
    try:
        result = w.build()
    finally:
        w.factory.kw["bind"].dispose()
    doc = Document(str(result.files["docx"]))
    header = doc.tables[0]
    assert header.cell(0, 0).text.splitlines() == ["UBND TỈNH VĨNH LONG", "SỞ VH-TT-DL"]
    assert header.cell(1, 0).text == "Số: 1/ĐT-STTTT"
    assert header.cell(1, 1).text.startswith("Long Châu, ngày 21 tháng 11")
    assert "GIÁM ĐỐC" in _docx_text(doc) and "Nguyễn Văn A" in _docx_text(doc)


def test_agency_lines_and_code():
    agency = "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"
    assert agency_lines(agency, "Vĩnh Long") == [
        "SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH",
        "TỈNH VĨNH LONG",
    ]
    assert agency_code(agency, "Vĩnh Long") == "SVHTTDL"
    assert agency_lines("Ban Tuyên giáo", "Vĩnh Long") == ["BAN TUYÊN GIÁO"]


# ── chart, helpers ───────────────────────────────────────────────────────────────────────────


def test_chart_is_a_small_png_with_vietnamese_labels():
    from matplotlib import font_manager
    from PIL import Image

    history = [
        DayCounts(
            DAY - timedelta(days=6 - i), {"tich_cuc": i, "trung_lap": 5, "tieu_cuc": 1}, {}, 0
        )
        for i in range(7)
    ]
    png = render_chart(history)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (600, 260)
    # The font used has every Vietnamese letter the labels need (no tofu boxes).
    font = font_manager.FontProperties(family="DejaVu Sans")
    path = font_manager.findfont(font, fallback_to_default=False)
    from matplotlib.ft2font import FT2Font

    ft = FT2Font(path)
    cmap = ft.get_charmap()
    for ch in "Số tin, bài 7 ngày qua, theo sắc thái Tích cực Trung lập Tiêu cực Chưa phân loại":
        assert ord(ch) in cmap, ch
    assert render_chart(history) == png  # same data, same bytes


def test_titles_are_cleaned_but_never_lose_words():
    assert clean_title("  Vĩnh Long   khánh thành cầu | Báo Vĩnh Long ") == (
        "Vĩnh Long khánh thành cầu"
    )
    assert clean_title("Vĩnh Long khánh thành cầu - Báo Vĩnh Long", ["Báo Vĩnh Long"]) == (
        "Vĩnh Long khánh thành cầu"
    )
    assert clean_title("Vĩnh Long - Trà Vinh hợp nhất", ["Báo Vĩnh Long"]) == (
        "Vĩnh Long - Trà Vinh hợp nhất"
    )
    assert clean_title("⚡️ KHẨN: VỠ ĐÊ!") == "KHẨN: VỠ ĐÊ!"
    assert clean_title("Tin &amp; ảnh\u200b") == "Tin & ảnh"
    long = clean_title("từ " * 200)
    assert len(long) <= 220 and long.endswith("…") and "  " not in long
    assert clean_title("") == "(không có tiêu đề)"
    assert outlet_name("Tin Nhanh Việt Nam — RSS Thời sự", "tinnhanh-rss") == "Tin Nhanh Việt Nam"
    assert outlet_name(None, "baovinhlong") == "baovinhlong"


def test_signed_numbers_read_the_vietnamese_way():
    assert (signed(3), signed(-2), signed(0), signed(1.5), signed(-0.4)) == (
        "+3",
        "−2",
        "0",
        "+1,5",
        "−0,4",
    )


def test_render_functions_work_on_data_alone(evil):
    """The sender and the review app call them on DigestData without touching the store."""
    data = evil.data
    assert render_text(data) == evil.files["txt"].read_text(encoding="utf-8")
    assert render_html(data) == evil.files["html"].read_text(encoding="utf-8")
    blob = render_docx(data, None)
    assert Document(io.BytesIO(blob)).inline_shapes.__len__() == 0
    assert render_docx(data, data.chart_png)[:2] == b"PK"


def test_date_used_is_the_digest_day_not_the_build_day(world):
    world.item("baovinhlong", "Vĩnh Long thu hút 12 dự án", LEAD, vn(DAY, 1))
    result = world.build(now=vn(DAY + timedelta(days=3), 9))
    assert result.data.day == DAY
    assert "Vĩnh Long, ngày 21 tháng 11 năm 2026" in _docx_text(Document(str(result.files["docx"])))
    assert result.data.day == date(2026, 11, 21)


def test_long_channel_sections_list_titles_past_the_first_entries(world):
    """A busy day stays short enough to read on a phone (and under Gmail's clipping size):
    past the first entries of a channel section the e-mail gives titles only, the DOCX all."""
    from digest.render import EMAIL_FULL_ENTRIES

    n = EMAIL_FULL_ENTRIES + 5
    for i in range(n):
        world.item(
            "baovinhlong",
            f"Vĩnh Long trao {i + 1} căn nhà đại đoàn kết cho hộ nghèo xã Hiếu Phụng số {i + 1}",
            f"Sáng nay xã Hiếu Phụng, tỉnh Vĩnh Long trao nhà đại đoàn kết cho hộ số {i + 1}. "
            "Mỗi căn trị giá 60 triệu đồng, do Mặt trận Tổ quốc tỉnh vận động. "
            "Các hộ được nhận đều thuộc diện hộ nghèo, có hoàn cảnh khó khăn.",
            vn(DAY, i % 6, i),
            tone="trung_lap",
        )
    result = world.build()
    html = Path(result.files["html"]).read_text(encoding="utf-8")
    doc = _docx_text(Document(str(result.files["docx"])))
    last = f"hộ nghèo xã Hiếu Phụng số {n}"
    assert last in html and last in doc  # nothing lost: the title is still there
    assert "toàn văn trong tệp DOCX đính kèm" in html
    # The summary of an entry past the cut is only in the DOCX.
    assert html.count("Mỗi căn trị giá 60 triệu đồng") <= EMAIL_FULL_ENTRIES
    assert doc.count("Mỗi căn trị giá 60 triệu đồng") >= n - 1

"""Article extraction on the saved real pages and on small pages written for one case each."""

from __future__ import annotations

import json
import os
import time
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest
import trafilatura
import yaml

from crawlers.encoding import decode_html
from crawlers.extract import extract_article, parse_date
from crawlers.urls import host
from store.profile import ExtractRules

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 3, 7, 12, 0, tzinfo=VN)
ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ["vnexpress", "tuoitre", "dantri", "vietnamnet"]


def _real_pages() -> Path:
    shared = os.environ.get("DIEMTIN_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "data" / "real_pages"


REAL = _real_pages()


def _site_rules() -> dict[str, ExtractRules]:
    data = yaml.safe_load((ROOT / "config" / "sites.yaml").read_text(encoding="utf-8"))
    return {h: ExtractRules(**rules) for h, rules in data["site_rules"].items()}


def _load(name: str) -> tuple[str, dict]:
    if not REAL.is_dir():
        pytest.skip(f"../shared/data/real_pages not present: {REAL}")
    expected = json.loads((REAL / f"{name}_article.expected.json").read_text(encoding="utf-8"))
    html, _ = decode_html((REAL / f"{name}_article.html").read_bytes(), "text/html")
    return html, expected


def _options(expected: dict, key: str) -> list[str]:
    return [expected[key], *expected.get("alternatives", {}).get(key, [])]


# --- real pages ------------------------------------------------------------------------------


def test_site_rules_are_valid_profile_rules():
    rules = _site_rules()
    assert {"vnexpress.net", "tuoitre.vn", "dantri.com.vn", "vietnamnet.vn"} <= set(rules)


@pytest.mark.parametrize("name", ARTICLES)
def test_real_article_with_site_rules(name):
    html, exp = _load(name)
    rules = _site_rules()[host(exp["url"])]
    art = extract_article(html, exp["url"], rules, now=NOW)

    assert art.title == exp["title"]
    assert art.published_at == datetime.fromisoformat(exp["published"])
    assert art.published_at.utcoffset() == timedelta(hours=7)
    assert art.url == exp["url"]
    assert art.lead == exp["lead"]
    assert any(art.text.startswith(s) for s in _options(exp, "body_first_sentence"))
    assert any(art.text.endswith(s) for s in _options(exp, "body_last_sentence"))
    assert art.language == "vi"
    assert art.author and "@" not in art.author and "http" not in art.author


@pytest.mark.parametrize("name", ARTICLES)
def test_real_article_without_rules(name):
    """JSON-LD, meta and trafilatura alone: what an unknown provincial site gets."""
    html, exp = _load(name)
    art = extract_article(html, exp["url"], None, now=NOW)

    assert art.title == exp["title"]
    assert art.published_at == datetime.fromisoformat(exp["published"])
    assert any(art.text.startswith(s) for s in _options(exp, "body_first_sentence"))
    assert any(art.text.endswith(s) for s in _options(exp, "body_last_sentence"))


def test_real_article_excludes_captions_and_bylines():
    html, exp = _load("vnexpress")
    art = extract_article(html, exp["url"], _site_rules()["vnexpress.net"], now=NOW)
    assert "Ảnh: Reuters" not in art.text
    assert "Hà Thu" not in art.text
    assert art.author == "Hà Thu (tổng hợp)"
    html, exp = _load("tuoitre")
    art = extract_article(html, exp["url"], _site_rules()["tuoitre.vn"], now=NOW)
    assert art.author == "NHẬT XUÂN, NGHI VŨ"  # JSON-LD headline and names are entity-escaped
    assert "Ảnh: H.Y.T." not in art.text
    assert "Xung đột ở Trung Đông khiến xuất khẩu Việt lao đao" not in art.text  # related box


@pytest.mark.parametrize("name", ARTICLES)
def test_real_section_pages_do_not_break_extraction(name):
    if not REAL.is_dir():
        pytest.skip(f"../shared/data/real_pages not present: {REAL}")
    html, _ = decode_html((REAL / f"{name}_list.html").read_bytes(), None)
    art = extract_article(html, f"https://{name}.example/", None, now=NOW)
    assert art.title
    assert unicodedata.is_normalized("NFC", art.text)


def test_real_pages_timing_is_reported(capsys):
    """Not a limit, a number for the record: average milliseconds per page with site rules."""
    pages = [_load(name) for name in ARTICLES]
    rules = _site_rules()
    start = time.perf_counter()
    for html, exp in pages:
        extract_article(html, exp["url"], rules[host(exp["url"])], now=NOW)
    per_page = (time.perf_counter() - start) * 1000 / len(pages)
    with capsys.disabled():
        print(f"\nextract_article: {per_page:.1f} ms/page over {len(pages)} real pages")


# --- one case each ---------------------------------------------------------------------------

PARAGRAPHS = (
    "<p>Sáng 5/3, Ủy ban nhân dân tỉnh Vĩnh Long tổ chức hội nghị triển khai kế hoạch chuyển "
    "đổi số năm 2026 với sự tham dự của lãnh đạo các sở, ngành và 124 xã, phường.</p>"
    "<p>Theo kế hoạch, đến cuối năm 2026, 90% hồ sơ thủ tục hành chính của tỉnh được tiếp nhận "
    "và giải quyết trực tuyến toàn trình.</p>"
    "<p>Tỉnh cũng đặt mục tiêu mỗi ấp, khóm có ít nhất một tổ công nghệ số cộng đồng để hướng "
    "dẫn người dân sử dụng dịch vụ công.</p>"
)


def test_jsonld_only_page():
    html = f"""<html><head>
    <script type="application/ld+json">{{"@context": "https://schema.org", "headline": "lỗi</script>
    <script type="application/ld+json">
    {{"@context": "https://schema.org", "@graph": [
      {{"@type": "WebSite", "name": "Báo Vĩnh Long", "url": "https://baovinhlong.com.vn"}},
      {{"@type": ["NewsArticle"],
        "headline": "Vĩnh Long triển khai kế hoạch chuyển đổi số năm 2026",
        "datePublished": "2026-03-05T09:15:00+07:00", "dateModified": "2026-03-05T10:02:00+07:00",
        "author": [{{"@type": "Person", "name": "Minh Thư"}},
                   {{"@type": "Organization", "name": "Báo Vĩnh Long"}}],
        "publisher": {{"@type": "Organization", "name": "Báo Vĩnh Long"}}}}
    ]}}
    </script></head><body><div class="noi-dung">{PARAGRAPHS}</div></body></html>"""
    art = extract_article(
        html, "https://baovinhlong.com.vn/thoi-su/chuyen-doi-so-123.html", now=NOW
    )
    assert art.title == "Vĩnh Long triển khai kế hoạch chuyển đổi số năm 2026"
    assert art.published_at == datetime(2026, 3, 5, 9, 15, tzinfo=VN)
    assert art.updated_at == datetime(2026, 3, 5, 10, 2, tzinfo=VN)
    assert art.author == "Minh Thư"
    assert art.site_name == "Báo Vĩnh Long"
    assert art.text.startswith("Sáng 5/3, Ủy ban nhân dân tỉnh Vĩnh Long tổ chức hội nghị")
    assert art.text.count("\n\n") == 2
    assert art.url is None
    assert art.language == "vi"


def test_open_graph_only_page():
    html = f"""<html lang="vi-VN"><head>
    <meta property="og:title" content="Trà Vinh cũ đón 2 triệu lượt khách du lịch - Báo Vĩnh Long">
    <meta property="og:url" content="https://baovinhlong.com.vn/du-lich/khach-du-lich-456.html?utm_source=facebook&amp;fbclid=IwAR0abc">
    <meta property="article:published_time" content="2026-03-06T16:40:00+07:00">
    <meta property="article:author" content="https://www.facebook.com/baovinhlong">
    <meta name="author" content="Thanh Hà">
    <meta property="og:description" content="Sáng 5/3, Ủy ban nhân dân tỉnh Vĩnh Long tổ chức
    hội nghị triển khai kế hoạch chuyển đổi số năm 2026.">
    </head><body><article>{PARAGRAPHS}</article></body></html>"""
    art = extract_article(
        html, "https://baovinhlong.com.vn/du-lich/khach-du-lich-456.html", now=NOW
    )
    assert art.title == "Trà Vinh cũ đón 2 triệu lượt khách du lịch"
    assert art.url == "https://baovinhlong.com.vn/du-lich/khach-du-lich-456.html"
    assert art.published_at == datetime(2026, 3, 6, 16, 40, tzinfo=VN)
    assert art.author == "Thanh Hà"  # article:author is a Facebook page, not a byline
    assert art.language == "vi"


def test_attachment_links_are_the_content_of_a_document_page():
    """An official-document page: its content is links to its attachments; the share button's
    label is not content."""
    html = """<html lang="vi"><head><title>Quyết định số 456/QĐ-UBND</title></head><body>
    <div class="header"><a href="/">Cổng thông tin điện tử tỉnh Vĩnh Long</a></div>
    <div class="main"><h1>Quyết định số 456/QĐ-UBND ban hành Kế hoạch chuyển đổi số năm 2026</h1>
    <div class="van-ban">
    <p><a href="/files/qd-456-ubnd.pdf">Quyết định số 456/QĐ-UBND ngày 5/3/2026 của Ủy ban nhân
    dân tỉnh Vĩnh Long về việc ban hành Kế hoạch chuyển đổi số năm 2026</a></p>
    <p><a href="/files/ke-hoach.pdf">Kế hoạch kèm theo Quyết định (tệp PDF, 2,1 MB)</a></p>
    </div><div class="share-tools"><p>Chia sẻ bài viết</p></div></div>
    <div class="footer"><p>Bản quyền thuộc Ủy ban nhân dân tỉnh Vĩnh Long</p></div>
    </body></html>"""
    art = extract_article(html, "https://vinhlong.gov.vn/van-ban/qd-456.html", now=NOW)
    assert art.title == "Quyết định số 456/QĐ-UBND ban hành Kế hoạch chuyển đổi số năm 2026"
    assert art.text.split("\n\n") == [
        "Quyết định số 456/QĐ-UBND ngày 5/3/2026 của Ủy ban nhân dân tỉnh Vĩnh Long về việc ban "
        "hành Kế hoạch chuyển đổi số năm 2026",
        "Kế hoạch kèm theo Quyết định (tệp PDF, 2,1 MB)",
    ]


def test_fallback_when_trafilatura_finds_only_the_headline():
    """A template that puts the article column in <aside>: trafilatura drops it as a sidebar
    and keeps only the <h1>; the fallback reads the paragraphs around the headline."""
    html = f"""<html lang="vi"><head><title>Xã Long Hồ ra quân làm đường giao thông</title>
    </head><body><div class="menu-top"><a href="/">Trang chủ</a></div>
    <div class="khung-chinh"><h1>Xã Long Hồ ra quân làm đường giao thông</h1>
    <aside class="cot-bai-viet">{PARAGRAPHS}</aside></div></body></html>"""
    tree = lxml.html.document_fromstring(html)
    found = trafilatura.bare_extraction(tree, with_metadata=False, include_comments=False)
    assert "Sáng 5/3" not in (found.text if found else "")  # the case this test is about

    art = extract_article(html, "https://longho.vinhlong.gov.vn/tin-tuc/ra-quan.html", now=NOW)
    assert art.title == "Xã Long Hồ ra quân làm đường giao thông"
    assert art.text.startswith("Sáng 5/3, Ủy ban nhân dân tỉnh Vĩnh Long tổ chức hội nghị")
    assert art.text.endswith("hướng dẫn người dân sử dụng dịch vụ công.")
    assert art.text.count("\n\n") == 2


def test_future_date_gives_none():
    def page(when: str) -> str:
        return (
            '<html><head><meta property="og:title" content="Lịch cắt điện tuần tới tại Vĩnh Long">'
            f'<meta property="article:published_time" content="{when}"></head>'
            f"<body><article>{PARAGRAPHS}</article></body></html>"
        )

    url = "https://baovinhlong.com.vn/lich-cat-dien.html"
    assert extract_article(page("2026-03-08T07:00:00+07:00"), url, now=NOW).published_at is None
    # Within the hour of slack a CMS clock running fast is forgiven.
    soon = extract_article(page("2026-03-07T12:30:00+07:00"), url, now=NOW)
    assert soon.published_at == datetime(2026, 3, 7, 12, 30, tzinfo=VN)


def test_decomposed_text_comes_out_nfc():
    title = "Người dân ấp Phú Hưng được hỗ trợ nước sạch"
    body = "Hơn 300 hộ dân ở xã Long Hồ được sử dụng nước sạch từ tháng 3/2026."
    html = unicodedata.normalize(
        "NFD",
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<article><p>{body}</p><p>{body}</p></article></body></html>",
    )
    art = extract_article(html, "https://baovinhlong.com.vn/a.html", now=NOW)
    assert art.title == title
    assert art.text.startswith(body)
    assert unicodedata.is_normalized("NFC", art.title + art.text)


def _cp1258_form(text: str) -> str:
    """What windows-1258 can encode: letters with circumflex, breve or horn precomposed
    (â, ă, ơ, ư ...), tone marks as separate combining characters ("ộ" = "ô" + U+0323)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        marks = [m for m in parts[1:] if m in "\u0302\u0306\u031b"]
        tones = [m for m in parts[1:] if m not in marks]
        out.append(unicodedata.normalize("NFC", parts[0] + "".join(marks)) + "".join(tones))
    return "".join(out)


def test_windows_1258_page():
    title = "Tỉnh Vĩnh Long đẩy mạnh chuyển đổi số ở ấp, khóm"
    paras = [
        "Người dân ấp Phú Hưng được hướng dẫn nộp hồ sơ trực tuyến tại nhà văn hóa ấp.",
        "Tổ công nghệ số cộng đồng gồm đoàn viên thanh niên và cán bộ ấp.",
    ]
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
        f"<title>{title}</title></head><body><h1>{title}</h1><div class='noidung'>"
        + "".join(f"<p>{p}</p>" for p in paras)
        + "</div></body></html>"
    )
    raw = _cp1258_form(html).encode("cp1258")
    with pytest.raises(UnicodeEncodeError):
        unicodedata.normalize("NFD", html).encode("cp1258")  # full NFD is not encodable

    # The server's default ISO-8859-1 header must not win over the page's own declaration.
    for content_type in (None, "text/html; charset=ISO-8859-1"):
        text, encoding = decode_html(raw, content_type)
        assert encoding == "cp1258"
        assert unicodedata.is_normalized("NFC", text)
        art = extract_article(text, "http://vinhlong.gov.vn/tin-tuc/123.html", now=NOW)
        assert art.title == title
        assert art.text.split("\n\n") == paras


def test_utf8_bytes_win_over_a_wrong_declaration():
    html = "<html><head><meta charset='windows-1258'></head><body><p>Đồng Tháp mưa lớn</p></body>"
    text, encoding = decode_html(html.encode("utf-8"), "text/html; charset=windows-1258")
    assert encoding == "utf-8"
    assert "Đồng Tháp mưa lớn" in text


def test_bad_bytes_never_raise():
    sentence = "<p>Mưa lớn kéo dài khiến nhiều tuyến đường ở Cần Thơ ngập sâu</p>"
    raw = sentence.encode("utf-8")
    text, encoding = decode_html(raw[:20] + b"\xff\xfe" + raw[20:], None)
    assert encoding == "utf-8"
    assert "nhiều tuyến đường ở Cần Thơ ngập sâu" in text
    assert "\ufffd" in text


def test_outlet_suffix_is_removed_from_title():
    html = f"""<html><head><title>Khánh thành cầu Đình Khao - Báo Vĩnh Long</title></head>
    <body><div>{PARAGRAPHS}</div></body></html>"""
    art = extract_article(html, "https://baovinhlong.com.vn/cau-dinh-khao.html", now=NOW)
    assert art.title == "Khánh thành cầu Đình Khao"


def test_literal_script_text_is_kept_and_real_scripts_are_not():
    html = """<html><head><title>Cảnh báo mã độc trên cổng dịch vụ công giả mạo</title></head>
    <body><h1>Cảnh báo mã độc trên cổng dịch vụ công giả mạo</h1><article>
    <p>Trang giả mạo chèn thẻ &lt;script&gt; vào biểu mẫu để đánh cắp mật khẩu của người dân.</p>
    <script>var matKhau = "không được lọt vào văn bản";</script>
    <p>Sở Thông tin và Truyền thông khuyến cáo người dân chỉ truy cập địa chỉ có đuôi .gov.vn.</p>
    </article></body></html>"""
    art = extract_article(html, "https://vinhlong.gov.vn/canh-bao.html", now=NOW)
    assert "chèn thẻ <script> vào biểu mẫu" in art.text
    assert "không được lọt vào" not in art.text


def test_site_rules_override_and_drop():
    html = """<html><head>
    <meta property="og:title" content="Tiêu đề trong thẻ meta">
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": "Tiêu đề JSON-LD",
      "datePublished": "2026-03-07T06:00:00+07:00"}</script></head><body>
    <h1 class="tieu-de">Vĩnh Long - Trà Vinh hợp tác phát triển du lịch sinh thái</h1>
    <div class="ngay-dang">Thứ bảy, 7/3/2026 - 06:00</div>
    <p class="sapo">Hai địa phương ký kết chương trình hợp tác giai đoạn 2026 - 2030.</p>
    <div class="noi-dung">
      <p>Chương trình tập trung vào các tuyến du lịch trên sông Cổ Chiên.</p>
      <figure><img src="/a.jpg"><figcaption>Lễ ký kết. Ảnh: Minh Khang</figcaption></figure>
      <div class="tin-lien-quan"><a href="/b.html">Du lịch miệt vườn hút khách</a></div>
      <p>Các bên sẽ xây dựng bộ sản phẩm chung trong năm nay.</p>
      <p class="tac-gia">MINH KHANG</p>
    </div></body></html>"""
    rules = ExtractRules(
        title="h1.tieu-de",
        lead="p.sapo",
        body="div.noi-dung",
        author="p.tac-gia",
        published="div.ngay-dang",
        drop=[".tin-lien-quan"],
    )
    art = extract_article(html, "https://baovinhlong.com.vn/du-lich-789.html", rules, now=NOW)
    assert art.title == "Vĩnh Long - Trà Vinh hợp tác phát triển du lịch sinh thái"
    assert art.lead == "Hai địa phương ký kết chương trình hợp tác giai đoạn 2026 - 2030."
    assert art.text.split("\n\n") == [
        "Hai địa phương ký kết chương trình hợp tác giai đoạn 2026 - 2030.",
        "Chương trình tập trung vào các tuyến du lịch trên sông Cổ Chiên.",
        "Các bên sẽ xây dựng bộ sản phẩm chung trong năm nay.",
    ]
    assert art.author == "MINH KHANG"
    assert art.published_at == datetime(2026, 3, 7, 6, 0, tzinfo=VN)


def test_canonical_link_relative_and_home_page_ignored():
    body = f"<body><article>{PARAGRAPHS}</article></body></html>"
    url = "https://baovinhlong.com.vn/thoi-su/bai-viet-123.html"
    rel = f'<html><head><link rel="canonical" href="/thoi-su/bai-viet-123.html#binh-luan">{body}'
    assert extract_article(rel, url, now=NOW).url == url
    home = f'<html><head><link rel="canonical" href="https://baovinhlong.com.vn/">{body}'
    assert extract_article(home, url, now=NOW).url is None


def test_empty_and_garbage_input():
    assert extract_article("", "https://baovinhlong.com.vn/").text == ""
    art = extract_article("<?xml version='1.0' encoding='utf-8'?><p>Tin ngắn</p>", "", now=NOW)
    assert art.text == "Tin ngắn"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-07T08:52:11.000 +07:00", datetime(2026, 3, 7, 8, 52, 11, tzinfo=VN)),
        ("2026-03-07T01:05:00Z", datetime(2026, 3, 7, 8, 5, tzinfo=VN)),
        ("2026-03-07 08:07", datetime(2026, 3, 7, 8, 7, tzinfo=VN)),
        ("Thứ bảy, 7/3/2026 - 08:01", datetime(2026, 3, 7, 8, 1, tzinfo=VN)),
        ("07/03/2026 08:01 GMT+7", datetime(2026, 3, 7, 8, 1, tzinfo=VN)),
        ("Thứ bảy, 7/3/2026, 00:05 (GMT+7)", datetime(2026, 3, 7, 0, 5, tzinfo=VN)),
        ("Cập nhật lúc 14h30 ngày 6 tháng 3 năm 2026", datetime(2026, 3, 6, 14, 30, tzinfo=VN)),
        ("March 6, 2026 10:15 PM", datetime(2026, 3, 6, 22, 15, tzinfo=VN)),
        ("1772816700", datetime(2026, 3, 7, 0, 5, tzinfo=VN)),
        ("không rõ ngày", None),
        ("31/02/2026", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected

"""URL canonicalisation and the text normal forms duplicates are recognised by."""

from __future__ import annotations

import unicodedata

import pytest

from crawlers.normalize import clean_text, clean_title, content_hash, nfc, title_key
from crawlers.urls import canonicalize, host, same_site


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "https://baovinhlong.com.vn/thoi-su/202603/le-ra-quan-3201234/"
            "?utm_source=facebook&utm_medium=social&utm_campaign=tet",
            "https://baovinhlong.com.vn/thoi-su/202603/le-ra-quan-3201234/",
        ),
        (
            "https://vnexpress.net/cach-cac-nuoc-doi-pho-5047363.html?fbclid=IwAR3xYz#box_comment",
            "https://vnexpress.net/cach-cac-nuoc-doi-pho-5047363.html",
        ),
        ("HTTPS://VnExpress.NET:443/Kinh-Doanh", "https://vnexpress.net/Kinh-Doanh"),
        ("http://vinhlong.gov.vn:80/tin-tuc", "http://vinhlong.gov.vn/tin-tuc"),
        ("http://vinhlong.gov.vn:8080/tin-tuc", "http://vinhlong.gov.vn:8080/tin-tuc"),
        (
            "http://vinhlong.gov.vn/index.php?p=123&id=45&zarsrc=30&gidzl=abc",
            "http://vinhlong.gov.vn/index.php?id=45&p=123",
        ),
        (
            "https://tuoitre.vn/tim-kiem.htm?keywords=v%C4%A9nh+long&gclid=Cj0K",
            "https://tuoitre.vn/tim-kiem.htm?keywords=v%C4%A9nh+long",
        ),
        ("//dantri.com.vn/xa-hoi.htm", "https://dantri.com.vn/xa-hoi.htm"),
        ("https://baovinhlong.com.vn", "https://baovinhlong.com.vn/"),
    ],
)
def test_canonicalize(raw, expected):
    assert canonicalize(raw) == expected


def test_canonicalize_sorts_query_and_is_idempotent():
    a = canonicalize("https://example.vn/tim?b=2&a=1&utm_term=x")
    b = canonicalize("https://example.vn/tim?a=1&b=2")
    assert a == b == "https://example.vn/tim?a=1&b=2"
    assert canonicalize(a) == a


def test_canonicalize_encodes_vietnamese_paths_one_way():
    nfc_url = "https://baocantho.com.vn/tin-tức/mưa-lớn"
    nfd_url = unicodedata.normalize("NFD", nfc_url)
    assert canonicalize(nfc_url) == canonicalize(nfd_url)
    assert canonicalize(nfc_url) == canonicalize(
        "https://baocantho.com.vn/tin-t%E1%BB%A9c/m%C6%B0a-l%E1%BB%9Bn"
    )


def test_host_and_same_site():
    assert host("https://WWW.Dantri.com.vn:8080/xa-hoi.htm") == "dantri.com.vn"
    assert same_site("https://m.baovinhlong.com.vn/a", "http://baovinhlong.com.vn/b")
    assert same_site("https://vnexpress.net/a", "https://kinhdoanh.vnexpress.net/b")
    assert not same_site("https://vinhlong.gov.vn/", "https://travinh.gov.vn/")
    assert not same_site("https://baovinhlong.com.vn/", "https://baotravinh.com.vn/")
    assert not same_site("", "https://vnexpress.net/")


@pytest.mark.parametrize(
    ("raw", "sites", "expected"),
    [
        ("Khánh thành cầu Đình Khao - Báo Vĩnh Long", (), "Khánh thành cầu Đình Khao"),
        ("Giá xăng giảm mạnh | VnExpress", (), "Giá xăng giảm mạnh"),
        ("Giá hoa tăng dịp 8-3 - Tuổi Trẻ Online", (), "Giá hoa tăng dịp 8-3"),
        ("Giá vàng giảm - Báo điện tử Dân Trí", (), "Giá vàng giảm"),
        (
            "Cách các nước đối phó cú sốc năng lượng - Báo VnExpress Kinh doanh",
            (),
            "Cách các nước đối phó cú sốc năng lượng",
        ),
        ("Mưa lớn ở Cần Thơ – Cổng thông tin điện tử TP Cần Thơ", (), "Mưa lớn ở Cần Thơ"),
        ("Cổ phiếu FLC giao dịch trở lại - VietNamNet News", (), "Cổ phiếu FLC giao dịch trở lại"),
        ("Lễ hội Ok Om Bok 2026 - Truyền hình Vĩnh Long", (), "Lễ hội Ok Om Bok 2026"),
        ("Tin mới nhất trong ngày - Báo Ấp Bắc", ("Báo Ấp Bắc",), "Tin mới nhất trong ngày"),
        ("Đường sắt tốc độ cao | Người Đưa Tin", ("Người Đưa Tin",), "Đường sắt tốc độ cao"),
        ("Hội nghị cán bộ - baovinhlong.com.vn", (), "Hội nghị cán bộ"),
        # A headline's own dash or separator stays.
        (
            "Vĩnh Long - Trà Vinh hợp tác phát triển",
            ("Báo Vĩnh Long",),
            "Vĩnh Long - Trà Vinh hợp tác phát triển",
        ),
        (
            "Xuất khẩu gạo tăng - Báo cáo của Bộ Công Thương",
            (),
            "Xuất khẩu gạo tăng - Báo cáo của Bộ Công Thương",
        ),
        (
            "Căng thẳng eo biển - Đài Loan tăng cảnh giác",
            (),
            "Căng thẳng eo biển - Đài Loan tăng cảnh giác",
        ),
        ("Hà Nội - Thủ đô ngàn năm văn hiến", (), "Hà Nội - Thủ đô ngàn năm văn hiến"),
        ("Nhìn lại năm 2025 | Phần 1", (), "Nhìn lại năm 2025 | Phần 1"),
        ("  Giá\u00a0lúa   tăng  ", (), "Giá lúa tăng"),
    ],
)
def test_clean_title(raw, sites, expected):
    assert clean_title(raw, sites) == expected


def test_title_key_ignores_form_case_spacing_and_punctuation():
    title = "Vĩnh Long: Hơn 300 hộ dân được dùng nước sạch!"
    same = [
        unicodedata.normalize("NFD", title),
        "vĩnh long   hơn 300 hộ dân được dùng nước sạch",
        "VĨNH LONG - Hơn 300 hộ dân được dùng nước sạch",
        "Vĩnh\u00a0Long: Hơn 300 hộ dân được dùng nước sạch.",
    ]
    assert all(title_key(t) == title_key(title) for t in same)
    assert title_key("Vĩnh Long: Hơn 400 hộ dân được dùng nước sạch") != title_key(title)
    assert len(title_key(title)) == 40


def test_content_hash_changes_only_with_the_words():
    title, text = "Mưa lớn ở Cần Thơ", "Nhiều tuyến đường ngập sâu.\n\nGiao thông ùn tắc."
    base = content_hash(title, text)
    assert content_hash(unicodedata.normalize("NFD", title), text) == base
    assert content_hash(title, "Nhiều tuyến đường  ngập sâu.\n\nGiao thông ùn tắc. ") == base
    assert content_hash(title, text.replace("sâu", "nhẹ")) != base
    assert len(base) == 64


def test_nfc_of_a_long_page_equals_unicodedata():
    """nfc() works in blocks on long text; the result must be exactly unicodedata's."""
    words = ["Thủy", "điện", "xả", "lũ", "Quảng", "Nam", "ộ", "Ậ", "ẫ", "Ứ", "<p>", "\n", "đ"]
    parts = [w if i % 7 else unicodedata.normalize("NFD", w) for i, w in enumerate(words * 9000)]
    page = " ".join(parts)
    assert len(page) > 100_000
    assert nfc(page) == unicodedata.normalize("NFC", page)


def test_nfc_and_clean_text():
    nfd = unicodedata.normalize("NFD", "Thủy điện xả lũ, người dân Quảng Nam sơ tán")
    assert nfd != nfc(nfd)
    assert nfc(nfd) == "Thủy điện xả lũ, người dân Quảng Nam sơ tán"
    raw = (
        f"  {nfd}\u00a0 ngay\n trong đêm. \r\n\r\n\n"
        "Đoạn   thứ\u200b hai.\n\n   \n\nĐoạn thứ ba\u00a0\u00a0có\tkhoảng trắng."
    )
    assert clean_text(raw) == (
        "Thủy điện xả lũ, người dân Quảng Nam sơ tán ngay trong đêm.\n\n"
        "Đoạn thứ hai.\n\n"
        "Đoạn thứ ba có khoảng trắng."
    )
    assert clean_text("") == ""

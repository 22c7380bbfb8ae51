"""Vietnamese text keys: NFC/NFD, tone-mark placement, diacritics, segmentation."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest

from classify.text import KeyedText, match_key, nfc, plain_key, segmenter, sentences, words


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


# (one spelling, another spelling): both must give the same match key
SAME_KEY = [
    ("hoà", "hòa"),
    ("Khánh Hoà", "Khánh Hòa"),
    ("thuý", "thúy"),
    ("Thuỷ điện", "thủy điện"),
    ("quỳ", "qùy"),
    ("khoẻ", "khỏe"),
    ("oà", "òa"),
    ("uý", "úy"),
    ("oé", "óe"),
    ("Hoà Bình", "HÒA BÌNH"),
    ("hoạ sĩ", "họa sĩ"),
    ("quý", "qúy"),
    ("già", "gìa"),
    ("mùa", "muà"),
    ("người", "ngừơi"),
    ("Trà  Vinh", "trà vinh"),
    ("Vĩnh\r\nLong", "vĩnh long"),
    ("Phan Rang – Tháp Chàm", "phan rang - tháp chàm"),
]


@pytest.mark.parametrize(("a", "b"), SAME_KEY)
def test_both_spellings_give_one_key(a: str, b: str) -> None:
    assert match_key(a) == match_key(b)
    assert match_key(nfd(a)) == match_key(b)


# syllables whose mark legitimately sits elsewhere must not be moved
KEEP = [
    "hoàn",
    "toán",
    "huỳnh",
    "ngoài",
    "khuỷu",
    "nguyễn",
    "quyền",
    "gì",
    "giữ gìn",
    "thuở",
    "café",
]


@pytest.mark.parametrize("word", KEEP)
def test_key_keeps_correct_placements(word: str) -> None:
    assert match_key(word) == word
    assert match_key(nfd(word)) == word


def test_canonical_placement_is_the_official_one() -> None:
    assert match_key("Khánh Hoà") == "khánh hòa"
    assert match_key("THUỶ") == "thủy"
    assert match_key("qùy") == "quỳ"


def test_match_key_never_changes_stored_text() -> None:
    s = "Khánh Hoà"
    match_key(s)
    assert s == "Khánh Hoà"
    assert nfc(nfd(s)) == "Khánh Hoà"


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Đồng Nai", "dong nai"),
        ("ĐỒNG THÁP", "dong thap"),
        ("\u00d0ồng Tháp", "dong thap"),  # Ð U+00D0, the look-alike of Đ
        ("Trà Vinh", "tra vinh"),
        ("Bạc Liêu", "bac lieu"),
        ("Khánh Hoà", "khanh hoa"),
        (nfd("Cà Mau"), "ca mau"),
        ("Ninh Thuận  ", "ninh thuan"),
    ],
)
def test_plain_key(text: str, plain: str) -> None:
    assert plain_key(text) == plain


def test_keyed_text_maps_offsets_back_for_nfd_and_spaces() -> None:
    raw = nfd("Lũ ở  tỉnh\r\nTrà Vinh (cũ)")
    kt = KeyedText(raw)
    assert kt.key == "lũ ở tỉnh trà vinh (cũ)"
    assert kt.plain == "lu o tinh tra vinh (cu)"
    i = kt.key.index("trà vinh")
    a, b = kt.span(i, i + len("trà vinh"))
    assert nfc(raw[a:b]) == "Trà Vinh"
    assert kt.span(0, len(kt.key)) == (0, len(raw))


def test_keyed_text_nfc_fast_path_is_identity() -> None:
    raw = "Cà Mau, Bạc Liêu"
    kt = KeyedText(raw)
    assert kt.key == "cà mau, bạc liêu"
    assert kt.span(8, 16) == (8, 16)


def test_sentences_split_and_keep_abbreviations() -> None:
    text = (
        "Sáng 12/3, UBND tỉnh Vĩnh Long tổ chức hội nghị. TP.HCM có mưa lớn!\r\n"
        "Ông Nguyễn Văn A cho biết: sẽ làm ngay."
    )
    out = sentences(text)
    assert out == [
        "Sáng 12/3, UBND tỉnh Vĩnh Long tổ chức hội nghị.",
        "TP.HCM có mưa lớn!",
        "Ông Nguyễn Văn A cho biết: sẽ làm ngay.",
    ]
    assert sentences(nfd(text)) == out


def test_words_keep_multi_syllable_words_together() -> None:
    out = words("Xã Long Hồ, huyện Long Hồ, tỉnh Vĩnh Long.")
    assert "Vĩnh Long" in out or ("Vĩnh" in out and "Long" in out)
    assert out[-1] == "."


def test_segmentation_uses_the_installed_package_when_there() -> None:
    pytest.importorskip("underthesea")
    name, _, _ = segmenter()
    assert name == "underthesea"
    assert "Vĩnh Long" in words("UBND tỉnh Vĩnh Long họp.")


def test_segmenter_does_not_pull_in_torch() -> None:
    pytest.importorskip("underthesea")
    code = (
        "import sys; from classify.text import sentences, words; "
        "sentences('A b. C d.'); words('Trà Vinh'); "
        "print(any(m.split('.')[0] in ('torch', 'transformers') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sentences_keep_web_addresses_whole():
    from classify.text import sentences

    text = (
        "Clip lan truyền tại https://www.facebook.com/groups/tinnongmientay/posts/812. "
        "Bà con đừng chia sẻ khi chưa rõ nguồn! Thông tin chính thức ở www.vinhlong.gov.vn."
    )
    assert sentences(text) == [
        "Clip lan truyền tại https://www.facebook.com/groups/tinnongmientay/posts/812.",
        "Bà con đừng chia sẻ khi chưa rõ nguồn!",
        "Thông tin chính thức ở www.vinhlong.gov.vn.",
    ]

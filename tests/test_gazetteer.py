"""Gazetteer: the data (34/63 provinces, communes, old districts), lookups and find()."""

from __future__ import annotations

import time
import unicodedata

import pytest

from classify.gazetteer import LEVELS, Gazetteer, PlaceMatch
from classify.tools.build_gazetteer import RESOLUTION_202, UNCHANGED


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return Gazetteer.load()


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


# ───────────────────────────── data ─────────────────────────────


def test_counts(gz: Gazetteer) -> None:
    assert len(gz.of_level("province")) == 34
    assert len(gz.of_level("province_old")) == 63
    assert len(gz.of_level("commune")) == 3321
    assert len(gz.of_level("district_old")) == 696
    assert len(gz.of_level("commune_old")) > 10_000
    assert {u.level for u in gz.units.values()} == set(LEVELS)


def test_load_is_cached_and_fast() -> None:
    t = time.perf_counter()
    a = Gazetteer.load()
    b = Gazetteer.load()
    assert a is b
    assert time.perf_counter() - t < 5.0


@pytest.mark.parametrize(
    ("new", "olds"),
    sorted({**RESOLUTION_202, **{n: [n] for n in UNCHANGED}}.items()),
)
def test_every_old_province_maps_to_its_new_one(gz: Gazetteer, new: str, olds: list[str]) -> None:
    """Resolution 202/2025/QH15: all 63 old provinces → the 34 new ones."""
    target = gz.current_province_of(new)
    assert target is not None and target.level == "province" and target.name == new
    for old in olds:
        assert gz.current_province_of(old) == target, old
    assert sorted(u.name for u in gz.former_provinces(target.code)) == sorted(olds)


@pytest.mark.parametrize(
    ("code", "formers", "n_communes", "districts"),
    [
        (
            "vinh_long",
            {"Vĩnh Long", "Trà Vinh", "Bến Tre"},
            124,
            {"Cầu Ngang", "Long Hồ", "Ba Tri"},
        ),
        ("ca_mau", {"Cà Mau", "Bạc Liêu"}, 64, {"Hồng Dân", "Giá Rai", "Năm Căn"}),
        ("dong_nai", {"Đồng Nai", "Bình Phước"}, 95, {"Đồng Xoài", "Lộc Ninh", "Biên Hòa"}),
        ("khanh_hoa", {"Khánh Hòa", "Ninh Thuận"}, 65, {"Nha Trang", "Cam Ranh", "Bác Ái"}),
    ],
)
def test_profile_provinces(
    gz: Gazetteer, code: str, formers: set[str], n_communes: int, districts: set[str]
) -> None:
    assert gz.province(code).code == code
    assert {u.name for u in gz.former_provinces(code)} == formers
    assert len(gz.of_level("commune", code)) == n_communes
    assert districts <= {u.name for u in gz.of_level("district_old", code)}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Trà Vinh", "vinh_long"),
        ("tinh Tra Vinh", "vinh_long"),
        ("tỉnh Bến Tre", "vinh_long"),
        ("BẠC LIÊU", "ca_mau"),
        ("Bình Phước", "dong_nai"),
        ("Ninh Thuận", "khanh_hoa"),
        ("Khánh Hoà", "khanh_hoa"),
        ("huyện Cầu Ngang", "vinh_long"),
        ("Nha Trang", "khanh_hoa"),
        ("Phan Rang - Tháp Chàm", "khanh_hoa"),
        ("Sài Gòn", "ho_chi_minh"),
        ("Bà Rịa – Vũng Tàu", "ho_chi_minh"),
        ("Thừa Thiên Huế", "hue"),
    ],
)
def test_current_province_of(gz: Gazetteer, name: str, code: str) -> None:
    p = gz.current_province_of(name)
    assert p is not None and p.code == code


def test_current_province_of_ambiguous_or_unknown(gz: Gazetteer) -> None:
    assert gz.current_province_of("Châu Thành") is None  # a district in ten provinces
    assert gz.current_province_of("Atlantis") is None
    with pytest.raises(KeyError):
        gz.province("tinh_cu:tra_vinh")


# ───────────────────────────── find ─────────────────────────────


def found(gz: Gazetteer, text: str) -> list[tuple[str, str, str | None]]:
    return [(m.name, m.level, m.province_code) for m in gz.find(text)]


FIND_CASES = [
    # old province vs ward: the context word decides, and the note says which
    (
        "tra-vinh-province-vs-ward",
        "UBND tỉnh Trà Vinh (cũ) bàn giao trụ sở; lễ ra quân ở phường Trà Vinh.",
        [
            ("Tỉnh Trà Vinh", "province_old", "vinh_long"),
            ("Phường Trà Vinh", "commune", "vinh_long"),
        ],
    ),
    (
        "bac-lieu-ward",
        "Phường Bạc Liêu tổ chức lễ hội.",
        [("Phường Bạc Liêu", "commune", "ca_mau")],
    ),
    (
        "tp-tra-vinh-old-city",
        "Trước đây TP Trà Vinh là tỉnh lỵ.",
        [("Thành phố Trà Vinh", "district_old", "vinh_long")],
    ),
    (
        "vinh-long-old-province",
        "Địa giới tỉnh Vĩnh Long (cũ) và tỉnh Vĩnh Long hiện nay.",
        [
            ("Tỉnh Vĩnh Long", "province_old", "vinh_long"),
            ("Tỉnh Vĩnh Long", "province", "vinh_long"),
        ],
    ),
    # a district name many provinces share: the address after it decides
    (
        "chau-thanh-tra-vinh",
        "Nông dân huyện Châu Thành, tỉnh Trà Vinh thu hoạch lúa.",
        [
            ("Huyện Châu Thành", "district_old", "vinh_long"),
            ("Tỉnh Trà Vinh", "province_old", "vinh_long"),
        ],
    ),
    (
        "chau-thanh-an-giang",
        "Nông dân huyện Châu Thành (An Giang) thu hoạch lúa.",
        [("Huyện Châu Thành", "district_old", "an_giang"), ("An Giang", "province", "an_giang")],
    ),
    (
        "chau-thanh-tay-ninh-old-long-an",
        "Xã Châu Thành, tỉnh Tây Ninh.",
        [("Xã Châu Thành", "commune", "tay_ninh"), ("Tỉnh Tây Ninh", "province", "tay_ninh")],
    ),
    (
        "commune-chain-old-district",
        "Ông A ở xã Hòa Bình, huyện Trà Ôn, tỉnh Vĩnh Long.",
        [
            ("Xã Hòa Bình", "commune", "vinh_long"),
            ("Huyện Trà Ôn", "district_old", "vinh_long"),
            ("Tỉnh Vĩnh Long", "province", "vinh_long"),
        ],
    ),
    (
        "old-commune-in-list-with-district",
        "Gà chết ở xã Long Thạnh và Châu Hưng, huyện Vĩnh Lợi (Bạc Liêu).",
        [
            ("Xã Long Thạnh", "commune_old", "ca_mau"),
            ("Thị trấn Châu Hưng", "commune_old", "ca_mau"),
            ("Huyện Vĩnh Lợi", "district_old", "ca_mau"),
            ("Tỉnh Bạc Liêu", "province_old", "ca_mau"),
        ],
    ),
    (
        "plural-context-word-list",
        "Các huyện Cầu Ngang, Trà Cú và Duyên Hải bị xâm nhập mặn.",
        [
            ("Huyện Cầu Ngang", "district_old", "vinh_long"),
            ("Huyện Trà Cú", "district_old", "vinh_long"),
            ("Huyện Duyên Hải", "district_old", "vinh_long"),
        ],
    ),
    # common words and person names
    ("hoa-binh-peace", "Thông điệp hòa bình được gửi đi từ lễ hội.", []),
    ("thai-binh-duong-pacific", "Thái Bình Dương là đại dương lớn nhất.", []),
    ("thanh-cong-person", "Anh Nguyễn Thành Công là kỹ sư.", []),
    ("long-ho-bare-needs-context", "Nhà hàng Long Hồ mở cửa. Long Hồ rất đông.", []),
    ("long-ho-with-context", "Xã Long Hồ", [("Xã Long Hồ", "commune", "vinh_long")]),
    ("hcm-the-person", "Học tập tư tưởng Hồ Chí Minh.", []),
    ("street-name", "Phố đi bộ Nguyễn Huệ đông vui.", []),
    (
        "hoa-binh-province",
        "Tỉnh Hoà Bình (cũ) nay thuộc Phú Thọ.",
        [("Tỉnh Hòa Bình", "province_old", "phu_tho"), ("Phú Thọ", "province", "phu_tho")],
    ),
    (
        "binh-phuoc-commune-vs-province",
        "Xã Bình Phước ở Vĩnh Long khác tỉnh Bình Phước.",
        [
            ("Xã Bình Phước", "commune", "vinh_long"),
            ("Vĩnh Long", "province", "vinh_long"),
            ("Tỉnh Bình Phước", "province_old", "dong_nai"),
        ],
    ),
    # abbreviations, English and unaccented text
    (
        "hcm-abbreviations",
        "TP.HCM, TP HCM, TPHCM, HCMC và Sài Gòn.",
        [("Hồ Chí Minh", "province", "ho_chi_minh")] * 5,
    ),
    (
        "english",
        "Tra Vinh province in the Mekong Delta; the Mekong Delta province of Ben Tre; Vinh Long.",
        [
            ("Tỉnh Trà Vinh", "province_old", "vinh_long"),
            ("Tỉnh Bến Tre", "province_old", "vinh_long"),
            ("Tỉnh Vĩnh Long", "province", "vinh_long"),
        ],
    ),
    (
        "unaccented-with-context-words",
        "ngap o phuong tra vinh, xa long ho, huyen cau ngang",
        [
            ("Phường Trà Vinh", "commune", "vinh_long"),
            ("Xã Long Hồ", "commune", "vinh_long"),
            ("Huyện Cầu Ngang", "district_old", "vinh_long"),
        ],
    ),
    ("unaccented-short-name-needs-context", "long ho dep lam, an binh cung vay", []),
    (
        "khanh-hoa-places",
        "Nha Trang, Cam Ranh và Phan Rang - Tháp Chàm thuộc Khánh Hoà.",
        [
            ("Thành phố Nha Trang", "district_old", "khanh_hoa"),
            ("Thành phố Cam Ranh", "district_old", "khanh_hoa"),
            ("Thành phố Phan Rang - Tháp Chàm", "district_old", "khanh_hoa"),
            ("Khánh Hòa", "province", "khanh_hoa"),
        ],
    ),
    (
        "dong-nai-places",
        "Phường Đồng Xoài và thị xã Bình Long (cũ) thuộc Đồng Nai.",
        [
            ("Phường Đồng Xoài", "commune", "dong_nai"),
            ("Thị xã Bình Long", "district_old", "dong_nai"),
            ("Đồng Nai", "province", "dong_nai"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in FIND_CASES], ids=[c[0] for c in FIND_CASES]
)
def test_find(gz: Gazetteer, text: str, expected: list[tuple[str, str, str | None]]) -> None:
    got = found(gz, text)
    # current provinces show as their full name ("Tỉnh Vĩnh Long"); compare on the short name too
    norm = [(n if lv != "province" else gz.unit(p).name, lv, p) for n, lv, p in got]
    want = [(n if lv != "province" else gz.unit(p).name, lv, p) for n, lv, p in expected]
    assert norm == want
    assert found(gz, nfd(text)) == got  # NFD input gives the same places


def test_find_says_which_reading(gz: Gazetteer) -> None:
    (ward,) = gz.find("Phường Trà Vinh")
    assert "Phường Trà Vinh" in ward.note and "tỉnh Vĩnh Long" in ward.note
    (old,) = gz.find("tỉnh Trà Vinh (cũ)")
    assert old.is_old_name and "nay thuộc tỉnh Vĩnh Long" in old.note
    (bare,) = gz.find("Lũ về Trà Vinh")
    assert bare.level == "province_old" and bare.resolved_by == "mặc định"
    assert "Phường Trà Vinh" in bare.note  # names the other reading


def test_find_ambiguous_stays_ambiguous(gz: Gazetteer) -> None:
    (m,) = gz.find("Nông dân huyện Châu Thành thu hoạch lúa.")
    assert m.ambiguous and m.province_code is None and m.code is None
    provinces = {gz.unit(c).province_code for c in m.candidates}
    assert {"vinh_long", "an_giang", "tay_ninh", "dong_thap"} <= provinces
    assert "nhiều tỉnh" in m.note


def test_find_offsets_point_into_the_original_text(gz: Gazetteer) -> None:
    text = nfd("Mưa  lớn ở\r\nphường  Bạc Liêu hôm qua")
    (m,) = gz.find(text)
    assert isinstance(m, PlaceMatch)
    assert text[m.start : m.end] == m.surface
    assert unicodedata.normalize("NFC", m.surface) == "phường  Bạc Liêu"
    assert m.qualifier == "phường" and m.via == "accented"


def test_find_plain_is_marked(gz: Gazetteer) -> None:
    (m,) = gz.find("Bac Lieu province")
    assert m.via == "plain" and m.code == "tinh_cu:bac_lieu" and m.province_code == "ca_mau"


def test_fallback_matcher_finds_the_same(monkeypatch: pytest.MonkeyPatch, gz: Gazetteer) -> None:
    """Without pyahocorasick a dictionary of first words gives the same matches."""
    import json

    from classify.gazetteer import DATA_PATH

    monkeypatch.setitem(__import__("sys").modules, "ahocorasick", None)  # import fails
    slow = Gazetteer(json.loads(DATA_PATH.read_text(encoding="utf-8")))
    assert slow._auto is None
    for _, text, _ in FIND_CASES:
        assert slow.find(text) == gz.find(text)

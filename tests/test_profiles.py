"""Province profiles (config/*.yaml) and the loader's line-precise problem reports."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from store.profile import (
    Profile,
    ProfileError,
    ProfileProblem,
    load_profile,
    mark_verified,
    parse_profile,
)

CONFIG = Path(__file__).resolve().parent.parent / "config"
NOT_PROVINCES = {"demo.yaml", "sites.yaml"}
PROFILE_PATHS = sorted(p for p in CONFIG.glob("*.yaml") if p.name not in NOT_PROVINCES)
KINDS = {"press_local", "press_central", "press_foreign", "social"}

# Resolution 202/2025/QH15, in force 1 July 2025: the province and the provinces merged into it.
MERGERS = {
    "vinh_long.yaml": ("Vĩnh Long", ["Trà Vinh", "Bến Tre"]),
    "ca_mau.yaml": ("Cà Mau", ["Bạc Liêu"]),
    "dong_nai.yaml": ("Đồng Nai", ["Bình Phước"]),
    "khanh_hoa.yaml": ("Khánh Hòa", ["Ninh Thuận"]),
}

# Polling policy: local press every 15 minutes, central 30, foreign press and social media 60.
INTERVALS = {"press_local": "15m", "press_central": "30m", "press_foreign": "60m", "social": "60m"}

# Article addresses seen on the outlets' own sites (the evidence each listing `allow` was written
# from), and a section page of the same site that must not be taken for an article.
ARTICLE_URLS = {
    ("vinh_long.yaml", "baovinhlong-cu"): (
        "https://baovinhlong.com.vn/van-hoa-giai-tri/202402/le-hoi-truyen-thong-le-hoi-van-thanh"
        "-mieu-duoc-cong-nhan-di-san-van-hoa-phi-vat-the-quoc-gia-3180733/",
        "https://baovinhlong.com.vn/xa-hoi/du-lich/",
    ),
    ("vinh_long.yaml", "baovinhlong-dongkhoi"): (
        "https://dongkhoi.baovinhlong.vn/tinh-hinh-van-hanh-cac-nha-may-dien-gio-tren-dia-ban"
        "-tinh-ben-tre-07092022-a105006.html",
        "https://dongkhoi.baovinhlong.vn/kinh-te/",
    ),
    ("vinh_long.yaml", "baotravinh"): (
        "https://baotravinh.vn/xa-hoi/bao-tra-vinh-60-nam-phuc-vu-nhiem-vu-chinh-tri-tinh-dang"
        "-bo-1703.html",
        "https://baotravinh.vn/xa-hoi/",
    ),
    ("ca_mau.yaml", "baocamau"): (
        "https://baocamau.vn/bao-va-dai-pt-th-bac-lieu-vang-vong-ky-uc-bung-sang-tuong-lai"
        "-a106034.html",
        "https://baocamau.vn/kinh-te/",
    ),
    ("ca_mau.yaml", "baocamau-kinh-te"): (
        "https://baocamau.vn/du-lich-the-thao/bao-ca-mau-dong-hanh-cung-que-huong-phat-trien"
        "-a39609.html",
        "https://baocamau.vn/kinh-te/phan-dau-dat-tang-truong-hai-con-so/?page=2",
    ),
    ("ca_mau.yaml", "baobaclieu"): (
        "https://www.baobaclieu.vn/quoc-phong-an-ninh/manh-tay-xu-ly-tin-gia-tin-sai-su-that-ve"
        "-dich-covid-19-tren-mang-72306.html",
        "https://www.baobaclieu.vn/quoc-phong-an-ninh/",
    ),
    ("dong_nai.yaml", "baodongnai"): (
        "https://baodongnai.com.vn/tin-moi/202507/anh-hinh-anh-bao-dang-dia-phuong-cua-23-tinh"
        "-thanh-pho-moi-sau-sap-nhap-83102d4/",
        "https://baodongnai.com.vn/english/politics/202507/standing-deputy-secretary-ton-ngoc"
        "-hanh-works-with-dong-nai-newspaper-and-radio-television-5d52c77",
    ),
    ("dong_nai.yaml", "baodongnai-english"): (
        "https://baodongnai.com.vn/english/politics/202507/standing-deputy-secretary-ton-ngoc"
        "-hanh-works-with-dong-nai-newspaper-and-radio-television-5d52c77",
        "https://baodongnai.com.vn/english/politics/",
    ),
    ("dong_nai.yaml", "baobinhphuoc"): (
        "https://baobinhphuoc.com.vn/news/505/137419/doc-dao-dinh-than-hung-long",
        "https://baobinhphuoc.com.vn/Content/UploadFiles/EditorFiles/images/2017/Quy4/a.jpg",
    ),
    ("dong_nai.yaml", "dnrtv"): (
        "https://dnrtv.org.vn/tin-tuc-n76984/tien-dien-tu-la-gi-va-ban-su-dung-chung-nhu-the"
        "-nao.html",
        "https://dnrtv.org.vn/gioi-thieu",
    ),
    ("khanh_hoa.yaml", "baokhanhhoa"): (
        "https://baokhanhhoa.vn/van-hoa/201903/khanh-vinh-thanh-lap-trung-tam-van-hoa-thong-tin"
        "-va-the-thao-huyen-8108775/",
        "https://baokhanhhoa.vn/van-hoa/",
    ),
    ("khanh_hoa.yaml", "baokhanhhoa-english"): (
        "https://news.baokhanhhoa.vn/tourism/202507/7-months-over-105m-tourist-arrivals-to-khanh"
        "-hoa-province-5a448d5/",
        "https://news.baokhanhhoa.vn/tourism/",
    ),
}


def fold(text: str) -> str:
    """Lower case without diacritics (đ and Ð count as d), for comparing names."""
    text = text.replace("đ", "d").replace("Đ", "D").replace("\u00d0", "D")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return " ".join(text.lower().split())


@functools.cache
def load(name: str) -> tuple[Profile, list[ProfileProblem]]:
    return load_profile(CONFIG / name)


@functools.cache
def raw(name: str) -> dict:
    return yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))


profiles = pytest.mark.parametrize("name", [p.name for p in PROFILE_PATHS])
merged = pytest.mark.parametrize("name", sorted(MERGERS))


# ───────────────────────────── the real profiles ─────────────────────────────


def test_every_merged_province_has_a_profile():
    assert set(MERGERS) <= {p.name for p in PROFILE_PATHS}


@profiles
def test_profile_loads_without_problems(name):
    profile, problems = load(name)
    assert problems == [], "\n".join(str(p) for p in problems)
    assert profile.timezone == "Asia/Ho_Chi_Minh"


@profiles
def test_profile_has_twelve_sources_covering_every_kind(name):
    profile, _ = load(name)
    assert len(profile.sources) >= 12
    assert {s.kind for s in profile.sources} == KINDS


@profiles
def test_source_names_are_unique(name):
    names = [s.get("name") for s in raw(name)["sources"]]
    assert [n for n, count in Counter(names).items() if count > 1] == []


@profiles
def test_real_addresses_are_unverified(name):
    """No machine here reaches the Internet: `diemtin sources check` verifies them later."""
    profile, _ = load(name)
    real = [
        s for s in profile.sources if any(u.startswith(("http://", "https://")) for u in s.urls)
    ]
    assert real
    assert [s.name for s in real if s.verified] == []


@profiles
def test_addresses_use_https(name):
    profile, _ = load(name)
    plain = [u for s in profile.sources for u in s.urls if u.startswith("http://")]
    assert plain == []


@profiles
def test_intervals_follow_the_polling_policy(name):
    profile, _ = load(name)
    wrong = [
        (s.name, s.kind, s.interval) for s in profile.sources if s.interval != INTERVALS[s.kind]
    ]
    assert wrong == []


@profiles
def test_the_provinces_own_press_weighs_more_than_foreign_and_social(name):
    profile, _ = load(name)
    weights = {k: [s.weight for s in profile.sources if s.kind == k] for k in KINDS}
    others = weights["press_foreign"] + weights["social"]
    assert max(weights["press_local"]) > max(others)
    assert max(weights["press_central"]) > max(others)


@profiles
def test_listing_sources_name_their_links_and_article_pattern(name):
    profile, _ = load(name)
    for source in profile.sources:
        if source.type == "listing":
            assert source.links, source.name
            assert source.allow and source.allow.startswith("^https?://"), source.name


@pytest.mark.parametrize(
    ("name", "source", "article", "section"),
    [(n, s, a, b) for (n, s), (a, b) in ARTICLE_URLS.items()],
    ids=[f"{n}:{s}" for n, s in ARTICLE_URLS],
)
def test_listing_pattern_takes_articles_and_skips_section_pages(name, source, article, section):
    allow = re.compile(load(name)[0].source(source).allow)
    assert allow.search(article)
    assert not allow.search(section)


@profiles
def test_agency_and_digest_block(name):
    profile, _ = load(name)
    assert profile.agency.startswith("Sở ")
    assert profile.province.name in profile.agency
    digest = raw(name)["digest"]
    assert isinstance(digest["recipients"], list)
    assert digest["window_start"] == "07:00"


@profiles
def test_sources_check_can_mark_every_source_verified(name, tmp_path):
    """`diemtin sources check --write` flips each source's own `verified: false` line."""
    copy = tmp_path / name
    copy.write_text((CONFIG / name).read_text(encoding="utf-8"), encoding="utf-8")
    everyone = {s.name for s in load(name)[0].sources}
    assert mark_verified(copy, everyone) == len(everyone)
    profile, problems = load_profile(copy)
    assert problems == []
    assert all(s.verified for s in profile.sources)


def uncommented_examples(text: str) -> str:
    """The commented-out example sources (`  # - name: …` blocks), with the `# ` taken off."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("  # - name:"):
            inside = True
        elif not line.startswith("  #   "):
            inside = False
        if inside:
            out.append("  " + line[4:])
    return "\n".join(out) + "\n"


@profiles
def test_commented_examples_load_once_uncommented(name):
    text = (CONFIG / name).read_text(encoding="utf-8")
    examples = uncommented_examples(text)
    profile, problems = parse_profile(text.rstrip("\n") + "\n" + examples)
    assert problems == []
    added = {s.type for s in profile.sources[len(load(name)[0].sources) :]}
    assert {"import", "feed", "listing"} <= added


@merged
def test_province_matches_the_merger(name):
    profile, _ = load(name)
    province, former = MERGERS[name]
    assert profile.province.name == province
    assert profile.province.former == former
    assert fold(profile.province.english) == fold(province)


@merged
def test_aliases_cover_accents_and_english(name):
    province = load(name)[0].province
    aliases = set(province.aliases)
    assert province.name in aliases
    assert province.english in aliases
    assert f"{province.english} province" in aliases
    assert f"tỉnh {province.name}" in aliases
    assert len(province.aliases) == len(aliases)


@merged
def test_aliases_are_province_level_names_only(name):
    """Every alias names the province or a former province, never a ward such as Nha Trang."""
    province = load(name)[0].province
    names = [fold(n) for n in [province.name, *province.former]]
    stray = [a for a in province.aliases if not any(n in fold(a) for n in names)]
    assert stray == []


def test_khanh_hoa_aliases_use_both_tone_placements():
    aliases = load("khanh_hoa.yaml")[0].province.aliases
    assert {"Khánh Hòa", "Khánh Hoà", "tỉnh Khánh Hòa", "tỉnh Khánh Hoà"} <= set(aliases)
    assert "Nha Trang" not in aliases


# ───────────────────────── the loader: line-precise problems ─────────────────────────

HEAD = """\
province:
  code: vinh_long
  name: Vĩnh Long
  former: [Trà Vinh, Bến Tre]
agency: Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long
sources:
"""

THVL = """\
  - name: thvl
    title: Truyền hình Vĩnh Long
    kind: press_local
    type: feed
    urls: [https://thvl.vn/feed/]
    interval: 15m
"""

DONGKHOI = """\
  - name: baovinhlong-dongkhoi
    title: Báo Đồng Khởi
    kind: press_local
    type: listing
    urls: [https://dongkhoi.baovinhlong.vn/]
    links: "a[href]"
    allow: '-a\\d+\\.html$'
"""

VNEXPRESS = """\
  - name: vnexpress
    title: VnExpress
    kind: press_central
    type: feed
    urls:
      - https://vnexpress.net/rss/thoi-su.rss
    interval: 30m
"""

VALID = ["thvl", "baovinhlong-dongkhoi", "vnexpress"]

# (case, a broken source, a regex for the line the problem must name, what the message starts with)
BROKEN = [
    (
        "unknown-kind",
        """\
  - name: bao-tra-vinh
    title: Báo Trà Vinh
    kind: bao_dia_phuong
    type: feed
    urls: [https://baotravinh.vn/rss]
""",
        r"kind: bao_dia_phuong",
        "kind:",
    ),
    (
        "url-without-scheme",
        """\
  - name: baocamau
    title: Báo Cà Mau
    kind: press_local
    type: feed
    urls: [baocamau.vn/rss/home.rss]
""",
        r"urls: \[baocamau",
        "urls: địa chỉ không hợp lệ",
    ),
    (
        "url-with-ftp",
        """\
  - name: baobaclieu
    title: Báo Bạc Liêu
    kind: press_local
    type: feed
    urls:
      - ftp://baobaclieu.vn/rss
""",
        r"- ftp://baobaclieu",
        "urls: địa chỉ không hợp lệ",
    ),
    (
        "interval-in-words",
        """\
  - name: baodongnai
    title: Báo Đồng Nai
    kind: press_local
    type: feed
    urls: [https://baodongnai.com.vn/rss/tin-moi.rss]
    interval: 15 phút
""",
        r"interval: 15 phút",
        "interval: không hiểu khoảng thời gian",
    ),
    (
        "listing-without-links",
        """\
  - name: dnrtv
    title: Đài PT-TH Đồng Nai
    kind: press_local
    type: listing
    urls: [https://dnrtv.org.vn/]
""",
        r"- name: dnrtv",
        "(cả mục): nguồn kiểu 'listing' cần bộ chọn CSS 'links'",
    ),
    (
        "feed-without-urls",
        """\
  - name: baokhanhhoa
    title: Báo Khánh Hòa
    kind: press_local
    type: feed
""",
        r"- name: baokhanhhoa",
        "(cả mục): nguồn cần ít nhất một địa chỉ",
    ),
    (
        "misspelt-field",
        """\
  - name: baoninhthuan
    title: Báo Ninh Thuận
    kind: press_local
    type: feed
    urls: [https://www.baoninhthuan.com.vn/rss]
    url: https://www.baoninhthuan.com.vn/
""",
        r"^    url: https",
        "url: Extra inputs are not permitted",
    ),
    (
        "name-with-diacritics",
        """\
  - name: Báo Cà Mau
    title: Báo Cà Mau
    kind: press_local
    type: feed
    urls: [https://baocamau.vn/rss]
""",
        r"- name: Báo Cà Mau",
        "name:",
    ),
    (
        "negative-weight",
        """\
  - name: bbc-tieng-viet
    title: BBC Tiếng Việt
    kind: press_foreign
    type: feed
    urls: [https://feeds.bbci.co.uk/vietnamese/rss.xml]
    weight: -1
""",
        r"weight: -1",
        "weight:",
    ),
    (
        "unknown-extract-rule",
        """\
  - name: dantri
    title: Dân trí
    kind: press_central
    type: feed
    urls: [https://dantri.com.vn/rss/xa-hoi.rss]
    extract:
      title: h1.title-page
      tieu_de: h1
""",
        r"tieu_de: h1",
        "extract.tieu_de: Extra inputs are not permitted",
    ),
    (
        "source-is-a-string",
        """\
  - https://baocamau.vn/rss/home.rss
""",
        r"- https://baocamau\.vn/rss/home\.rss",
        "cần một bảng",
    ),
    (
        "source-is-empty",
        """\
  -
""",
        r"^  -$",
        "cần một bảng",
    ),
]


def line_of(text: str, pattern: str) -> int:
    """1-based number of the first line matching the regex."""
    for number, line in enumerate(text.splitlines(), 1):
        if re.search(pattern, line):
            return number
    raise AssertionError(f"no line matches {pattern!r}")


def names(profile: Profile) -> list[str]:
    return [s.name for s in profile.sources]


def test_a_valid_profile_loads_every_source():
    profile, problems = parse_profile(HEAD + THVL + DONGKHOI + VNEXPRESS)
    assert problems == []
    assert names(profile) == VALID
    assert profile.source("vnexpress").interval_td.total_seconds() == 1800


@pytest.mark.parametrize(
    ("source", "pattern", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_a_broken_source_is_reported_at_its_line_and_the_rest_loads(source, pattern, message):
    text = HEAD + THVL + DONGKHOI + source + VNEXPRESS
    profile, problems = parse_profile(text, "config/vinh_long.yaml")
    assert len(problems) == 1, problems
    [problem] = problems
    assert problem.line == line_of(text, pattern)
    assert problem.message.startswith(message), problem.message
    assert problem.where.startswith("nguồn ")
    assert str(problem).startswith(f"config/vinh_long.yaml:{problem.line}: nguồn ")
    assert names(profile) == VALID


def test_every_broken_source_in_one_file_is_reported_at_its_line():
    text, expected = HEAD + THVL, []
    for number, (_, source, pattern, message) in enumerate(BROKEN):
        expected.append((text.count("\n") + line_of(source, pattern), message))
        text += source + DONGKHOI.replace("baovinhlong-dongkhoi", f"dongkhoi-{number}")
    text += VNEXPRESS
    profile, problems = parse_profile(text)
    assert [p.line for p in problems] == [line for line, _ in expected]
    for problem, (_, message) in zip(problems, expected, strict=True):
        assert problem.message.startswith(message)
    assert names(profile) == ["thvl", *(f"dongkhoi-{n}" for n in range(len(BROKEN))), "vnexpress"]


def test_a_source_is_named_by_its_position_when_it_has_no_name():
    text = HEAD + THVL + "  - https://baocamau.vn/rss/home.rss\n" + VNEXPRESS
    _, [problem] = parse_profile(text)
    assert problem.where == "nguồn #2"


def test_a_duplicate_name_is_reported_at_the_second_name_and_the_first_is_kept():
    second = VNEXPRESS.replace("thoi-su.rss", "phap-luat.rss")
    text = HEAD + VNEXPRESS + THVL + second
    profile, [problem] = parse_profile(text)
    vnexpress_names = [
        n for n, line in enumerate(text.splitlines(), 1) if "name: vnexpress" in line
    ]
    assert problem.line == vnexpress_names[1]
    assert problem.where == "nguồn vnexpress"
    assert problem.message == "tên nguồn bị trùng"
    assert names(profile) == ["vnexpress", "thvl"]
    assert profile.source("vnexpress").urls == ["https://vnexpress.net/rss/thoi-su.rss"]


def test_a_yaml_syntax_error_stops_the_file_with_its_line():
    text = HEAD + THVL.replace("title: Truyền hình Vĩnh Long", "title: THVL: tin mới") + VNEXPRESS
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "config/vinh_long.yaml")
    [problem] = caught.value.problems
    assert problem.where == "YAML"
    assert problem.line == line_of(text, "title: THVL: tin mới")
    assert str(caught.value).startswith(f"config/vinh_long.yaml:{problem.line}: YAML: ")


def test_a_tab_in_the_indentation_is_a_yaml_error_at_its_line():
    text = HEAD + THVL.replace("    kind: press_local", "\tkind: press_local") + VNEXPRESS
    with pytest.raises(ProfileError) as caught:
        parse_profile(text)
    assert [p.line for p in caught.value.problems] == [line_of(text, "\tkind")]


def test_a_bad_province_block_stops_the_file_with_its_line():
    text = HEAD.replace("  name: Vĩnh Long\n", "") + THVL
    with pytest.raises(ProfileError) as caught:
        parse_profile(text)
    [problem] = caught.value.problems
    assert problem.where == "hồ sơ"
    assert problem.message.startswith("province.name:")
    assert problem.line in {line_of(text, "^province:"), line_of(text, "code: vinh_long")}


def test_a_missing_agency_stops_the_file():
    text = HEAD.replace("agency: Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long\n", "") + THVL
    with pytest.raises(ProfileError) as caught:
        parse_profile(text)
    assert [p.message.split(":")[0] for p in caught.value.problems] == ["agency"]


@pytest.mark.parametrize("text", ["", "- thvl\n- vnexpress\n", "chỉ một dòng chữ\n"])
def test_a_profile_that_is_not_a_mapping_stops_at_line_one(text):
    with pytest.raises(ProfileError) as caught:
        parse_profile(text)
    assert [p.line for p in caught.value.problems] == [1]


def test_load_profile_names_the_file(tmp_path):
    path = tmp_path / "ca_mau.yaml"
    text = HEAD + THVL + BROKEN[0][1] + VNEXPRESS
    path.write_text(text, encoding="utf-8")
    profile, [problem] = load_profile(path)
    assert str(problem) == (
        f"{path}:{line_of(text, 'kind: bao_dia_phuong')}: nguồn bao-tra-vinh: " + problem.message
    )
    assert names(profile) == ["thvl", "vnexpress"]


def test_load_profile_reports_a_missing_file(tmp_path):
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path / "khong_co.yaml")
    [problem] = caught.value.problems
    assert problem.line is None
    assert problem.message == "không tìm thấy tệp"


def test_environment_variables_fill_addresses(monkeypatch):
    source = THVL.replace(
        "[https://thvl.vn/feed/]", '["${DIEMTIN_TEST_THVL:-https://thvl.vn/feed/}"]'
    )
    monkeypatch.delenv("DIEMTIN_TEST_THVL", raising=False)
    profile, _ = parse_profile(HEAD + source)
    assert profile.source("thvl").urls == ["https://thvl.vn/feed/"]
    monkeypatch.setenv("DIEMTIN_TEST_THVL", "file:///srv/diemtin/thvl.xml")
    profile, _ = parse_profile(HEAD + source)
    assert profile.source("thvl").urls == ["file:///srv/diemtin/thvl.xml"]


# ─────── loader bugs found while writing these tests (store/profile.py), now fixed ───────


def test_bug_a_bad_second_url_is_reported_at_its_own_line():
    source = VNEXPRESS.replace(
        "      - https://vnexpress.net/rss/thoi-su.rss\n",
        "      - https://vnexpress.net/rss/thoi-su.rss\n      - vnexpress.net/rss/phap-luat.rss\n",
    )
    text = HEAD + THVL + source
    _, [problem] = parse_profile(text)
    assert problem.line == line_of(text, "- vnexpress.net/rss/phap-luat")


def test_bug_an_invalid_allow_pattern_is_a_problem_not_a_crash():
    source = DONGKHOI.replace("'-a\\d+\\.html$'", "'([a-z'")
    text = HEAD + THVL + source + VNEXPRESS
    profile, [problem] = parse_profile(text)
    assert problem.line == line_of(text, r"allow: '\(\[a-z'")
    assert names(profile) == ["thvl", "vnexpress"]


def test_bug_a_number_as_a_top_level_key_is_a_profile_error():
    with pytest.raises(ProfileError):
        parse_profile(HEAD.replace("sources:\n", "2025: ghi chú\nsources:\n") + THVL)


def test_bug_sources_written_as_a_mapping_is_one_problem():
    text = HEAD + "  thvl:\n    title: THVL\n  vnexpress:\n    title: VnExpress\n"
    _, problems = parse_profile(text)
    assert [p.line for p in problems] == [line_of(text, "^  thvl:")]


def test_bug_a_repeated_key_is_reported_where_the_used_value_is():
    source = THVL.replace("    type: feed\n", "    kind: bao_dia_phuong\n    type: feed\n")
    text = HEAD + source
    _, [problem] = parse_profile(text)
    assert problem.line == line_of(text, "kind: bao_dia_phuong")

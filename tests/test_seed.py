"""The labelled seed set (classify/seed): files, labels, splits, text forms, reproducibility."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from classify.seed import build
from store import taxonomy

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "classify" / "seed"
TAXONOMY = ROOT.parent / "shared" / "design" / "TAXONOMY.md"
SPLITS = ("train", "dev", "test")

TOPICS, TONES = set(taxonomy.TOPICS), set(taxonomy.TONES)
SENSITIVITY, MISLEADING = set(taxonomy.SENSITIVITY), set(taxonomy.MISLEADING)
KINDS = set(taxonomy.KINDS)
LANGUAGES = {"vi", "en"}
PROVINCES = {"vinh_long", "ca_mau", "dong_nai", "khanh_hoa"}
REQUIRED = (
    "id",
    "title",
    "lead",
    "kind",
    "language",
    "province",
    "relevant",
    "topics",
    "tone",
    "sensitivity",
    "misleading",
    "split",
)
OPTIONAL = {"base", "variant", "evidence", "nfd"}

# minimum support per label value: over the whole set (from the brief) and per split
MIN_TOTAL = {"topic": 60, "tone": 80, "sensitivity": 80, "misleading": 80}
MIN_TRAIN = 30
MIN_TEST = 8
MIN_DEV = 5

VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯ]|[\u0300\u0301\u0303\u0309\u0323]")
VIETNAMESE_ONLY = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
ENGLISH_WORDS = re.compile(
    r"\b(the|a|an|of|and|in|to|with|from|for|on|at|by|is|are|said|was|were|has)\b"
)


@functools.cache
def items_by_split() -> dict[str, list[dict]]:
    out = {}
    for split in SPLITS:
        lines = (SEED / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        out[split] = [json.loads(line) for line in lines]
    return out


def all_items() -> list[dict]:
    return [item for split in SPLITS for item in items_by_split()[split]]


def text_of(item: dict) -> str:
    return item["title"] + "\n" + item["lead"]


def has_diacritics(text: str) -> bool:
    text = unicodedata.normalize("NFD", text)
    return bool(VIETNAMESE_LETTERS.search(text)) or "đ" in text.lower()


def label_values(item: dict) -> list[tuple[str, str]]:
    values = [("topic", t) for t in item["topics"]]
    values += [
        ("tone", item["tone"]),
        ("sensitivity", item["sensitivity"]),
        ("misleading", item["misleading"]),
        ("kind", item["kind"]),
        ("language", item["language"]),
        ("province", item["province"]),
        ("relevant", str(item["relevant"]).lower()),
    ]
    return values


def every_value() -> list[tuple[str, str]]:
    return (
        [("topic", t) for t in sorted(TOPICS)]
        + [("tone", v) for v in sorted(TONES)]
        + [("sensitivity", v) for v in sorted(SENSITIVITY)]
        + [("misleading", v) for v in sorted(MISLEADING)]
        + [("kind", v) for v in sorted(KINDS)]
        + [("language", v) for v in sorted(LANGUAGES)]
        + [("province", v) for v in sorted(PROVINCES)]
        + [("relevant", "true"), ("relevant", "false")]
    )


# ─────────────────────────────── files and fields ───────────────────────────────


def test_files_parse_and_carry_their_split():
    for split, items in items_by_split().items():
        assert items, f"{split}.jsonl is empty"
        for item in items:
            missing = [k for k in REQUIRED if k not in item]
            assert not missing, f"{item.get('id')}: missing {missing}"
            extra = set(item) - set(REQUIRED) - OPTIONAL
            assert not extra, f"{item['id']}: unexpected keys {extra}"
            assert item["split"] == split, (item["id"], split)


def test_at_least_2000_items_split_about_70_15_15():
    sizes = {split: len(items) for split, items in items_by_split().items()}
    total = sum(sizes.values())
    assert total >= 2000, sizes
    assert 0.62 <= sizes["train"] / total <= 0.78, sizes
    for split in ("dev", "test"):
        assert 0.10 <= sizes[split] / total <= 0.20, sizes


def test_ids_unique():
    ids = Counter(item["id"] for item in all_items())
    dupes = [i for i, n in ids.items() if n > 1]
    assert not dupes, dupes[:10]


def test_no_duplicate_texts():
    texts = Counter((item["title"], item["lead"]) for item in all_items())
    dupes = [t for t, n in texts.items() if n > 1]
    assert not dupes, dupes[:3]


def test_every_field_has_a_valid_code():
    for item in all_items():
        iid = item["id"]
        assert item["kind"] in KINDS, iid
        assert item["language"] in LANGUAGES, iid
        assert item["province"] in PROVINCES, iid
        assert isinstance(item["relevant"], bool), iid
        assert isinstance(item["topics"], list), iid
        assert len(item["topics"]) == len(set(item["topics"])) <= 3, iid
        assert set(item["topics"]) <= TOPICS, (iid, item["topics"])
        assert item["tone"] in TONES, iid
        assert item["sensitivity"] in SENSITIVITY, iid
        assert item["misleading"] in MISLEADING, iid
        assert item["split"] in SPLITS, iid
        assert isinstance(item["title"], str) and 10 <= len(item["title"]) <= 200, iid
        assert isinstance(item["lead"], str) and 40 <= len(item["lead"]) <= 600, iid
        assert "{" not in text_of(item) and "}" not in text_of(item), iid
        if "nfd" in item:
            assert item["nfd"] is True, iid


def test_title_and_lead_shape():
    """A headline (one line) and a lead of 1–3 sentences."""
    sentence_end = re.compile(r"(?<=[.!?])\s+(?=[A-ZĐÀ-Ỹ“\"(])")
    for item in all_items():
        assert "\n" not in item["title"] and "\n" not in item["lead"], item["id"]
        lead = unicodedata.normalize("NFC", item["lead"]).strip()
        assert 1 <= len(sentence_end.split(lead)) <= 3, item["id"]


def test_codes_match_taxonomy():
    if not TAXONOMY.exists():
        pytest.skip(f"{TAXONOMY} is not in this checkout (shared design folder)")
    text = TAXONOMY.read_text(encoding="utf-8")
    codes = set(re.findall(r"`([a-z_]+)`", text))
    missing = (TOPICS | TONES | SENSITIVITY | MISLEADING) - codes
    assert not missing, missing
    topic_rows = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert topic_rows == TOPICS
    assert set(build.TOPICS) == TOPICS
    assert set(build.TONES) == TONES
    assert set(build.SENSITIVITY) == SENSITIVITY
    assert set(build.MISLEADING) == MISLEADING


# ─────────────────────────────── label support ───────────────────────────────


def test_every_label_value_in_train_dev_and_test():
    per_split = {split: Counter() for split in SPLITS}
    for split, items in items_by_split().items():
        for item in items:
            per_split[split].update(label_values(item))
    problems = []
    for value in every_value():
        for split, minimum in (("train", MIN_TRAIN), ("dev", MIN_DEV), ("test", MIN_TEST)):
            if per_split[split][value] < minimum:
                problems.append(f"{value} in {split}: {per_split[split][value]} < {minimum}")
    assert not problems, problems


def test_minimum_support_over_the_whole_set():
    totals = Counter(value for item in all_items() for value in label_values(item))
    low = [
        (field, value, totals[(field, value)])
        for field, value in every_value()
        if field in MIN_TOTAL and totals[(field, value)] < MIN_TOTAL[field]
    ]
    assert not low, low


def test_channels_languages_and_provinces_are_covered():
    items = all_items()
    social = [i for i in items if i["kind"] == "social"]
    assert len(social) >= 150
    unaccented = [i for i in social if i["language"] == "vi" and not has_diacritics(text_of(i))]
    assert len(unaccented) >= 40, len(unaccented)
    foreign_en = [i for i in items if i["kind"] == "press_foreign" and i["language"] == "en"]
    assert len(foreign_en) >= 120, len(foreign_en)
    for province in PROVINCES:
        mine = [i for i in items if i["province"] == province]
        assert sum(i["relevant"] for i in mine) >= 150, province
        assert sum(not i["relevant"] for i in mine) >= 50, province


def test_former_provinces_appear_in_relevant_items_of_their_profile():
    former = {
        "vinh_long": ["Trà Vinh", "Bến Tre"],
        "ca_mau": ["Bạc Liêu"],
        "dong_nai": ["Bình Phước"],
        "khanh_hoa": ["Ninh Thuận"],
    }
    items = all_items()
    for province, names in former.items():
        for name in names:
            plain = build.strip_diacritics(name)
            hits = [
                i
                for i in items
                if i["province"] == province
                and i["relevant"]
                and (
                    name in unicodedata.normalize("NFC", text_of(i))
                    or plain.lower() in build.strip_diacritics(text_of(i)).lower()
                )
            ]
            assert len(hits) >= 5, (province, name, len(hits))


def test_other_provinces_are_not_relevant():
    others = ["An Giang", "Tây Ninh", "Cần Thơ", "Lâm Đồng", "Gia Lai", "Quảng Ngãi", "Lạng Sơn"]
    items = all_items()
    for name in others:
        hits = [i for i in items if name in text_of(i)]
        assert hits, name
        assert all(not i["relevant"] for i in hits if i["variant"] == "cross"), name
    cross = [i for i in items if i.get("variant") == "cross"]
    assert len(cross) >= 200
    assert all(not i["relevant"] for i in cross)


# ─────────────────────────────── splits ───────────────────────────────


def test_no_base_item_or_title_shared_across_splits():
    base_split = defaultdict(set)
    title_split = defaultdict(set)
    for split, items in items_by_split().items():
        for item in items:
            base_split[item["base"]].add(split)
            key = build.strip_diacritics(unicodedata.normalize("NFC", item["title"])).lower()
            title_split[key].add(split)
    assert not [b for b, s in base_split.items() if len(s) > 1]
    shared = [t for t, s in title_split.items() if len(s) > 1]
    assert not shared, shared[:5]
    for item in all_items():
        assert item["id"].startswith(item["base"] + "-"), item["id"]


# ─────────────────────────────── text forms ───────────────────────────────


def test_text_is_nfc_unless_marked_nfd():
    items = all_items()
    for item in items:
        for field in ("title", "lead"):
            text = item[field]
            if item.get("nfd"):
                assert unicodedata.normalize("NFD", text) == text, item["id"]
                assert unicodedata.normalize("NFC", text) != text, item["id"]
            else:
                assert unicodedata.normalize("NFC", text) == text, (item["id"], field)
    nfd = [i for i in items if i.get("nfd")]
    assert 5 <= len(nfd) <= 0.05 * len(items), len(nfd)
    assert all(i["language"] == "vi" for i in nfd)


def test_both_tone_mark_placements_occur():
    texts = [unicodedata.normalize("NFC", text_of(i)) for i in all_items()]
    old_style = re.compile(r"(?i)(òa|óa|ỏa|õa|ọa|òe|óe|ỏe|ùy|úy|ủy|ũy|ụy)(?!\w)")
    new_style = re.compile(r"(?i)(oà|oá|oả|oã|oạ|oè|oé|oẻ|uỳ|uý|uỷ|uỹ|uỵ)(?!\w)")
    assert sum(bool(old_style.search(t)) for t in texts) >= 100
    assert sum(bool(new_style.search(t)) for t in texts) >= 5


def test_english_items_are_marked_english():
    for item in all_items():
        text = unicodedata.normalize("NFC", text_of(item))
        english_words = len(ENGLISH_WORDS.findall(text))
        if item["language"] == "en":
            assert english_words >= 2, item["id"]
            assert not VIETNAMESE_ONLY.search(text.lower()), item["id"]
        else:
            looks_english = english_words > 1 and not has_diacritics(text)
            assert not looks_english or item["kind"] == "social", item["id"]


def test_vietnamese_items_without_diacritics_are_social():
    for item in all_items():
        if item["language"] == "vi" and not has_diacritics(text_of(item)):
            assert item["kind"] == "social", item["id"]


# ─────────────────────────────── misleading and sensitivity ───────────────────────────────


def test_misleading_items_carry_evidence():
    denial = re.compile(
        r"khẳng định|xác nhận|xác minh|xác định|thông tin|công bố|cảnh báo|bản đồ|giả mạo|bịa|"
        r"không có căn cứ|cắt ghép|chỉnh sửa|xuyên tạc"
    )
    for item in all_items():
        if item["misleading"] == "khong":
            assert "evidence" not in item, item["id"]
            continue
        evidence = item.get("evidence", "")
        assert len(evidence) >= 30, item["id"]
        if item["misleading"] == "sai_lech":
            assert denial.search(evidence), (item["id"], evidence)


def test_sensitivity_follows_the_documented_score():
    """Without the per-base adjustment (at most ±1 here) the score puts each item within a level."""
    order = {"binh_thuong": 0, "can_chu_y": 1, "nhay_cam": 2}
    for item in all_items():
        lo = build.sensitivity(item["topics"], item["tone"], item["misleading"], item["kind"], -1)
        hi = build.sensitivity(item["topics"], item["tone"], item["misleading"], item["kind"], 2)
        assert order[lo] <= order[item["sensitivity"]] <= order[hi], item["id"]
    for item in all_items():
        if item["misleading"] == "sai_lech":
            assert item["sensitivity"] != "binh_thuong", item["id"]


def test_sensitivity_score_examples_from_the_guide():
    s = build.sensitivity
    assert s(["dan_toc"], "tich_cuc", "khong", "press_local") == "binh_thuong"
    assert s(["chu_quyen_bien_dao"], "trung_lap", "khong", "press_central", 1) == "can_chu_y"
    assert s(["chu_quyen_bien_dao"], "trung_lap", "khong", "press_foreign", 1) == "nhay_cam"
    assert s(["tham_nhung_tieu_cuc"], "tieu_cuc", "khong", "press_local") == "can_chu_y"
    assert s(["tai_nan_thien_tai"], "tieu_cuc", "sai_lech", "social", 1) == "nhay_cam"
    assert s(["doi_ngoai"], "trung_lap", "khong", "social") == "binh_thuong"
    assert s(["dau_tu_kinh_te"], "tich_cuc", "chua_kiem_chung", "social") == "can_chu_y"


# ─────────────────────────────── build ───────────────────────────────


def test_build_reproduces_the_committed_files_byte_for_byte():
    files = build.outputs()
    assert set(files) == {"train.jsonl", "dev.jsonl", "test.jsonl", "STATS.md"}
    for name, text in files.items():
        assert (SEED / name).read_bytes() == text.encode("utf-8"), f"{name} is out of date"


def test_build_script_check_mode(tmp_path):
    script = SEED / "build.py"
    ok = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert ok.returncode == 0, ok.stderr
    stale = subprocess.run(
        [sys.executable, str(script), "--check", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert stale.returncode == 1


def test_loader():
    from classify.seed import load

    assert len(load("test")) == len(items_by_split()["test"])
    with pytest.raises(ValueError):
        load("validation")


def test_alternate_tone_placement_and_strip():
    assert build.alternate_tone_placement("Khánh Hòa, thủy sản, khỏe, quý, của, hoàng") == (
        "Khánh Hoà, thuỷ sản, khoẻ, quý, của, hoàng"
    )
    assert build.strip_diacritics("Đồng Nai, Bạc Liêu") == "Dong Nai, Bac Lieu"

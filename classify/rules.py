"""Lexicon triggers: explainable, high-precision rules that name what fired and where.

Phrases are matched on match keys (one tone placement, lower case); the `plain` variants (no
diacritics) are matched only on social posts, where people type without accents, and only as
whole phrases of two or more syllables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from classify.text import match_key, plain_key


@dataclass(frozen=True)
class Rule:
    code: str
    label: str  # Vietnamese, shown to officers
    phrases: tuple[str, ...]
    topic: str | None = None
    # What the rule means for the labels downstream.
    effect: str = ""  # sovereignty_distortion | rumour_cue | denial_cue | negative | positive


RULES: tuple[Rule, ...] = (
    Rule(
        "chu_quyen_sai_lech",
        "Thể hiện sai chủ quyền biển, đảo (đường lưỡi bò / đường chín đoạn)",
        (
            "đường lưỡi bò",
            "đường chín đoạn",
            "đường 9 đoạn",
            "nine-dash line",
            "nine dash line",
            "u-shaped line",
            "đường chữ u",
            "tam sa",
            "tây sa",
            "nam sa",
            "sansha",
        ),
        topic="chu_quyen_bien_dao",
        effect="sovereignty_distortion",
    ),
    Rule(
        "tin_don",
        "Dấu hiệu tin đồn, giật gân trên mạng",
        (
            "nghe nói",
            "nghe đồn",
            "tin nóng",
            "chia sẻ gấp",
            "share gấp",
            "xóa sổ",
            "bị che giấu",
            "sự thật bị",
            "mất liên lạc",
            "không ai đưa tin",
            "báo chí không đưa",
            "truyền tay",
            "rumor",
            "rumour",
            "unverified",
            "nóng:",
            "khẩn:",
            "che giấu",
            "giấu không cho",
            "không cho báo",
            "im lặng",
            "chưa liên lạc được",
            "chia sẻ để",
            "chuyển tiếp ngay",
            "chuyển tiếp cho",
            "xác nhận giúp",
            "có thật không",
            "thông báo khẩn",
            "khẩn trương sơ tán",
        ),
        effect="rumour_cue",
    ),
    Rule(
        "bac_bo",
        "Cơ quan chức năng bác bỏ, cải chính thông tin",
        (
            "bác bỏ",
            "không đúng sự thật",
            "sai sự thật",
            "thông tin sai lệch",
            "tin giả",
            "bịa đặt",
            "cải chính",
            "đính chính",
            "xử lý nghiêm người tung tin",
            "tung tin sai",
            "khẳng định không có",
            "không có chuyện",
            "không hề xảy ra",
            "denied",
            "false claims",
            "fake news",
            "dismissed reports",
        ),
        effect="denial_cue",
    ),
    Rule(
        "tu_tap_dong_nguoi",
        "Tụ tập đông người, khiếu kiện",
        (
            "tụ tập đông người",
            "kéo đến trụ sở",
            "biểu tình",
            "căng băng rôn",
            "khiếu kiện đông người",
            "protest",
        ),
        topic="dat_dai_khieu_kien",
        effect="negative",
    ),
    Rule(
        "iuu_the_vang",
        "Khai thác IUU, thẻ vàng",
        (
            "thẻ vàng",
            "khai thác iuu",
            "chống khai thác hải sản bất hợp pháp",
            "mất kết nối vms",
            "vi phạm vùng biển nước ngoài",
            "bị nước ngoài bắt giữ",
            "yellow card",
            "iuu fishing",
        ),
        topic="iuu",
        effect="negative",
    ),
    Rule(
        "nhan_quyen_bao_cao",
        "Báo cáo, tuyên bố về nhân quyền, tự do tôn giáo",
        (
            "nhân quyền",
            "tự do tôn giáo",
            "tự do báo chí",
            "human rights",
            "religious freedom",
            "press freedom",
        ),
        topic="dan_chu_nhan_quyen",
    ),
)


@dataclass(frozen=True)
class Hit:
    rule: str
    label: str
    phrase: str
    start: int  # in the match key of title + "\n" + text
    effect: str
    topic: str | None

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "label": self.label,
            "phrase": self.phrase,
            "effect": self.effect,
            "topic": self.topic,
        }


@cache
def _patterns() -> tuple[tuple[Rule, re.Pattern, re.Pattern | None], ...]:
    out = []
    for rule in RULES:
        keys = sorted({match_key(p) for p in rule.phrases}, key=len, reverse=True)
        accented = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, keys)) + r")(?!\w)")
        plains = sorted(
            {plain_key(p) for p in rule.phrases if len(p.split()) >= 2}, key=len, reverse=True
        )
        plain = (
            re.compile(r"(?<!\w)(" + "|".join(map(re.escape, plains)) + r")(?!\w)")
            if plains
            else None
        )
        out.append((rule, accented, plain))
    return tuple(out)


def lexicon_hits(title: str, text: str, *, social: bool = False) -> list[Hit]:
    """Every rule that fires on the item, once per rule, with the phrase that fired it."""
    joined = f"{title}\n{text}"
    key = match_key(joined)
    plain = plain_key(joined) if social else None
    hits = []
    for rule, accented, plain_re in _patterns():
        m = accented.search(key)
        if m is None and plain is not None and plain_re is not None:
            m = plain_re.search(plain)
        if m:
            hits.append(Hit(rule.code, rule.label, m.group(1), m.start(), rule.effect, rule.topic))
    return hits

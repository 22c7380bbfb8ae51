"""Sensitivity: binh_thuong / can_chu_y / nhay_cam, from topics, tone, channel, spread, lexicon
and misleading level, by rules the office can change in its profile (`sensitivity_rules`).

Every rule that fires is a reason; the highest level wins. A profile's rules are added to the
defaults, or replace them with `sensitivity_rules_replace: true`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from store.taxonomy import LEVEL_VI, SENSITIVITY

LEVELS = SENSITIVITY

SENSITIVE_TOPICS = ["chu_quyen_bien_dao", "bien_gioi", "ton_giao", "dan_toc", "dan_chu_nhan_quyen"]


class When(BaseModel):
    """All given conditions must hold."""

    model_config = ConfigDict(extra="forbid")

    topics: list[str] | None = None  # any of these topics (probability ≥ topic threshold)
    tone: list[str] | None = None
    kind: list[str] | None = None
    misleading: list[str] | None = None
    lexicon: list[str] | None = None  # rule codes from classify.rules
    min_outlets: int | None = None  # the story's spread


class SensitivityRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: When
    level: str = Field(pattern="^(binh_thuong|can_chu_y|nhay_cam)$")
    because: str


DEFAULT_RULES = [
    SensitivityRule(
        when=When(lexicon=["chu_quyen_sai_lech"]),
        level="nhay_cam",
        because="thể hiện sai chủ quyền biển, đảo",
    ),
    SensitivityRule(
        when=When(misleading=["sai_lech"]), level="nhay_cam", because="thông tin sai lệch về tỉnh"
    ),
    SensitivityRule(
        when=When(misleading=["chua_kiem_chung"]),
        level="can_chu_y",
        because="thông tin chưa kiểm chứng về tỉnh",
    ),
    SensitivityRule(
        when=When(topics=SENSITIVE_TOPICS, tone=["tieu_cuc"]),
        level="nhay_cam",
        because="chủ đề nhạy cảm, sắc thái tiêu cực",
    ),
    SensitivityRule(
        when=When(topics=SENSITIVE_TOPICS, kind=["press_foreign", "social"]),
        level="can_chu_y",
        because="chủ đề nhạy cảm trên báo nước ngoài/mạng xã hội",
    ),
    SensitivityRule(
        when=When(tone=["tieu_cuc"], kind=["press_foreign"]),
        level="nhay_cam",
        because="báo nước ngoài đưa tin tiêu cực về tỉnh",
    ),
    SensitivityRule(
        when=When(tone=["tieu_cuc"], kind=["social"]),
        level="can_chu_y",
        because="mạng xã hội phản ánh tiêu cực",
    ),
    SensitivityRule(
        when=When(tone=["tieu_cuc"], min_outlets=3),
        level="nhay_cam",
        because="tin tiêu cực lan trên nhiều cơ quan báo chí",
    ),
    SensitivityRule(
        when=When(
            topics=[
                "tham_nhung_tieu_cuc",
                "dat_dai_khieu_kien",
                "iuu",
                "an_ninh_trat_tu",
                "tai_nan_thien_tai",
                "moi_truong",
            ],
            tone=["tieu_cuc"],
        ),
        level="can_chu_y",
        because="vụ việc tiêu cực cần theo dõi",
    ),
    SensitivityRule(
        when=When(lexicon=["tu_tap_dong_nguoi"]),
        level="can_chu_y",
        because="có dấu hiệu tụ tập đông người, khiếu kiện",
    ),
]


def rules_from_profile(extra: dict) -> list[SensitivityRule]:
    """The profile's rules (validated) added to the defaults, or replacing them."""
    raw = extra.get("sensitivity_rules") or []
    try:
        own = [SensitivityRule(**r) for r in raw]
    except (ValidationError, TypeError) as exc:
        raise ValueError(f"sensitivity_rules trong hồ sơ không hợp lệ: {exc}") from exc
    return own if extra.get("sensitivity_rules_replace") else [*DEFAULT_RULES, *own]


@dataclass(frozen=True)
class Facts:
    topics: frozenset[str]
    tone: str | None
    kind: str
    misleading: str
    lexicon: frozenset[str]
    outlets: int


def _holds(w: When, f: Facts) -> bool:
    return all(
        (
            w.topics is None or bool(f.topics & set(w.topics)),
            w.tone is None or f.tone in w.tone,
            w.kind is None or f.kind in w.kind,
            w.misleading is None or f.misleading in w.misleading,
            w.lexicon is None or bool(f.lexicon & set(w.lexicon)),
            w.min_outlets is None or f.outlets >= w.min_outlets,
        )
    )


def sensitivity(facts: Facts, rules: list[SensitivityRule]) -> tuple[str, list[str]]:
    """(level, reasons). Reasons list every rule that fired, highest level first."""
    fired = [r for r in rules if _holds(r.when, facts)]
    if not fired:
        return "binh_thuong", []
    fired.sort(key=lambda r: LEVELS.index(r.level), reverse=True)
    return fired[0].level, [f"{LEVEL_VI[r.level]}: {r.because}" for r in fired]

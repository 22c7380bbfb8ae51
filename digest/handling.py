"""Proposed handling (đề xuất) for a story, from rules in the province profile.

```yaml
handling_rules:
  agencies:                       # topic → the department asked to verify ("Giao … kiểm tra")
    dat_dai_khieu_kien: Sở Nông nghiệp và Môi trường
  rules:                          # first match wins; every condition given must hold
    - when: {misleading: sai_lech, channel: press}
      handling: Đề nghị cơ quan báo chí cải chính; cung cấp thông tin chính thống cho báo chí
    - when: {tone: tieu_cuc, topics: [dat_dai_khieu_kien, moi_truong]}
      handling: Giao {so_nganh} kiểm tra, xác minh, phản hồi báo chí
  default: Theo dõi thêm
```

Conditions: ``topics`` (any of), ``tone``, ``sensitivity``, ``misleading``, ``channel``
(``press_local``, ``press_central``, ``press_foreign``, ``social``, or ``press`` for any press),
each a value or a list. ``{so_nganh}`` becomes the department for the story's first topic that
has one in ``agencies`` (else "Sở/ngành liên quan"). A profile without the block gets the
defaults below; a profile's ``agencies`` add to (and override) the default departments. An
officer's Decision.handling always wins over any rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

# The taxonomy's suggestions (TAXONOMY.md, "Proposed handling").
FOLLOW = "Theo dõi thêm"
INFORM = "Cung cấp thông tin chính thống cho báo chí"
CORRECT = "Đề nghị cơ quan báo chí cải chính"
VERIFY = "Giao {so_nganh} kiểm tra, xác minh, phản hồi báo chí"
AUTHORITIES = "Chuyển cơ quan chức năng xử lý"
AMPLIFY = "Phát huy, chia sẻ thông tin tích cực"
SUGGESTIONS = (FOLLOW, INFORM, CORRECT, VERIFY, AUTHORITIES, AMPLIFY)
FALLBACK_AGENCY = "Sở/ngành liên quan"

# Departments of a province after the 2025 reorganisation (used when the profile names none).
DEFAULT_AGENCIES = {
    "chu_quyen_bien_dao": "Bộ Chỉ huy Bộ đội Biên phòng tỉnh",
    "bien_gioi": "Bộ Chỉ huy Bộ đội Biên phòng tỉnh",
    "ton_giao": "Sở Dân tộc và Tôn giáo",
    "dan_toc": "Sở Dân tộc và Tôn giáo",
    "dan_chu_nhan_quyen": "Công an tỉnh",
    "iuu": "Sở Nông nghiệp và Môi trường",
    "doi_ngoai": "Sở Ngoại vụ",
    "dau_tu_kinh_te": "Sở Tài chính",
    "du_lich_van_hoa": "Sở Văn hóa, Thể thao và Du lịch",
    "an_ninh_trat_tu": "Công an tỉnh",
    "tham_nhung_tieu_cuc": "Thanh tra tỉnh",
    "dat_dai_khieu_kien": "Sở Nông nghiệp và Môi trường",
    "tai_nan_thien_tai": "Sở Nông nghiệp và Môi trường",
    "moi_truong": "Sở Nông nghiệp và Môi trường",
    "xa_hoi": "Sở Y tế",
    "chi_dao_dieu_hanh": "Văn phòng UBND tỉnh",
}

SENSITIVE_TOPICS = ["chu_quyen_bien_dao", "bien_gioi", "ton_giao", "dan_toc", "dan_chu_nhan_quyen"]
DEFAULT_RULES: list[dict] = [
    # False information: domestic press is asked to correct; abroad and online, the official
    # facts are given out (and online, the authorities act on the posts).
    {
        "when": {"misleading": "sai_lech", "channel": ["press_local", "press_central"]},
        "handling": f"{CORRECT}; {INFORM.lower()}",
    },
    {"when": {"misleading": "sai_lech", "channel": "press_foreign"}, "handling": INFORM},
    {
        "when": {"misleading": "sai_lech", "channel": "social"},
        "handling": f"{AUTHORITIES}; {INFORM.lower()}",
    },
    {"when": {"misleading": "chua_kiem_chung"}, "handling": VERIFY},
    {
        "when": {"sensitivity": "nhay_cam", "topics": SENSITIVE_TOPICS, "channel": "social"},
        "handling": AUTHORITIES,
    },
    {
        "when": {"sensitivity": "nhay_cam", "topics": ["chu_quyen_bien_dao", "bien_gioi"]},
        "handling": AUTHORITIES,
    },
    {"when": {"sensitivity": "nhay_cam", "channel": "press_foreign"}, "handling": INFORM},
    {"when": {"tone": "tieu_cuc", "channel": "press_foreign"}, "handling": INFORM},
    {"when": {"tone": "tieu_cuc"}, "handling": VERIFY},
    {"when": {"sensitivity": "nhay_cam"}, "handling": VERIFY},
    {"when": {"sensitivity": "can_chu_y"}, "handling": FOLLOW},
    {"when": {"tone": "tich_cuc"}, "handling": AMPLIFY},
]

CHANNELS = ("press_local", "press_central", "press_foreign", "social")


def _as_list(v: Any) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


class When(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[str] | None = None
    tone: list[str] | None = None
    sensitivity: list[str] | None = None
    misleading: list[str] | None = None
    channel: list[str] | None = None

    @field_validator("topics", "tone", "sensitivity", "misleading", "channel", mode="before")
    @classmethod
    def _listify(cls, v):
        return _as_list(v)

    @field_validator("channel")
    @classmethod
    def _channels(cls, v):
        for c in v or ():
            if c not in (*CHANNELS, "press"):
                raise ValueError(f"kênh không hợp lệ: {c!r}")
        return v


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: When = Field(default_factory=When)
    handling: str


@dataclass
class Facts:
    """What a rule can look at: a story's labels in force."""

    topics: list[str] = field(default_factory=list)
    tone: str | None = None
    sensitivity: str | None = None
    misleading: str = "khong"
    channel: str = "press_local"


def _matches(when: When, f: Facts) -> bool:
    if when.topics is not None and not set(when.topics) & set(f.topics):
        return False
    if when.tone is not None and f.tone not in when.tone:
        return False
    if when.sensitivity is not None and f.sensitivity not in when.sensitivity:
        return False
    if when.misleading is not None and f.misleading not in when.misleading:
        return False
    if when.channel is not None:
        chans = set(when.channel)
        if "press" in chans:
            chans |= {"press_local", "press_central", "press_foreign"}
        if f.channel not in chans:
            return False
    return True


@dataclass
class HandlingRules:
    rules: list[Rule]
    agencies: dict[str, str]
    default: str = FOLLOW
    problems: list[str] = field(default_factory=list)

    def agency_for(self, topics: list[str]) -> str:
        for t in topics:
            if t in self.agencies:
                return self.agencies[t]
        return FALLBACK_AGENCY

    def propose(self, facts: Facts) -> str:
        """The first matching rule's handling, with the department filled in."""
        text = next((r.handling for r in self.rules if _matches(r.when, facts)), self.default)
        return text.replace("{so_nganh}", self.agency_for(facts.topics)).strip()


def load_rules(extra: dict | None) -> HandlingRules:
    """The profile's ``handling_rules`` (its model_extra), defaults where absent.

    A malformed rule is left out and reported in ``problems``; the others still apply, so one
    typo never stops the morning's digest.
    """
    block = (extra or {}).get("handling_rules")
    agencies = dict(DEFAULT_AGENCIES)
    problems: list[str] = []
    default = FOLLOW
    raw_rules: list = DEFAULT_RULES
    if isinstance(block, list):
        raw_rules = block
    elif isinstance(block, dict):
        if isinstance(block.get("agencies"), dict):
            agencies.update({str(k): str(v) for k, v in block["agencies"].items() if v})
        if block.get("rules") is not None:
            raw_rules = block["rules"] if isinstance(block["rules"], list) else []
            if not isinstance(block["rules"], list):
                problems.append("handling_rules.rules phải là danh sách")
        if block.get("default"):
            default = str(block["default"])
    elif block is not None:
        problems.append("handling_rules phải là bảng (agencies, rules, default) hoặc danh sách")
    rules: list[Rule] = []
    for i, raw in enumerate(raw_rules):
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as exc:
            msg = "; ".join(
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            problems.append(f"handling_rules.rules[{i}]: {msg}")
    for p in problems:
        log.warning("quy tắc đề xuất xử lý bị bỏ qua: %s", p)
    return HandlingRules(rules=rules, agencies=agencies, default=default, problems=problems)

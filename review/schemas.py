"""The JSON API's request and response models (pydantic), which are also its OpenAPI document.

Field names are English; the codes in them are the taxonomy's (store/taxonomy.py). Responses
are typed loosely where the store keeps free-form JSON (evidence, rules fired), so an unusual
classifier output is passed on rather than turned into a server error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from review.decisions import STATUSES, VERDICTS
from store.taxonomy import KINDS, MISLEADING, SENSITIVITY, TONES, TOPICS

# Literal[tuple] spells the codes once (Literal["a", "b", ...]); they become enums in the schema.
Kind = Literal[KINDS]  # type: ignore[valid-type]
Topic = Literal[TOPICS]  # type: ignore[valid-type]
Tone = Literal[TONES]  # type: ignore[valid-type]
Sensitivity = Literal[SENSITIVITY]  # type: ignore[valid-type]
Misleading = Literal[MISLEADING]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]
Verdict = Literal[VERDICTS]  # type: ignore[valid-type]

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
MAX_TEXT = 4000


class ErrorOut(BaseModel):
    detail: str = Field(description="Lý do, bằng tiếng Việt.")


class Unchanged(BaseModel):
    changed: Literal[False] = Field(
        False, description="Quyết định gửi lên trùng với quyết định đang có hiệu lực."
    )


class Place(BaseModel):
    """A unit of the province the item names (from the gazetteer)."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None
    name: str | None = None
    level: str | None = Field(None, description="province | commune | …_old")
    is_old: bool | None = Field(None, description="Đơn vị hành chính cũ (trước sáp nhập).")
    province_code: str | None = None
    mentions: int | None = None
    named: bool | None = None


class Labels(BaseModel):
    """Labels in force: an officer's decision overrides the classifier's."""

    relevant: bool | None = Field(description="Liên quan đến tỉnh.")
    topics: list[str] = Field(description="Mã chủ đề, chủ đề chắc nhất trước.")
    tone: str | None = Field(description="tich_cuc | trung_lap | tieu_cuc")
    sensitivity: str | None = Field(description="binh_thuong | can_chu_y | nhay_cam")
    misleading: str | None = Field(description="khong | chua_kiem_chung | sai_lech")
    misleading_score: float | None = Field(description="Điểm sai lệch của bộ phân loại (0–1).")
    places: list[Place] = Field(description="Địa danh trong tỉnh mà tin nêu.")


class ClassificationOut(BaseModel):
    """What the classifier said, before any decision."""

    relevant: bool
    relevance: float
    topics: dict[str, float] = Field(description="Mã chủ đề → xác suất.")
    tone: str | None
    sensitivity: str | None
    misleading: str
    misleading_score: float
    story_id: int | None
    model_version: str
    classified_at: dt.datetime


class DecisionOut(BaseModel):
    """One decision row: everything in force for the item after it (None: as classified)."""

    id: int
    item_id: int
    action: str = Field(description="confirm | dismiss | correct | exclude | note")
    user: str = Field(description="Cán bộ ra quyết định.")
    at: dt.datetime
    relevant: bool | None = None
    topics: list[str] | None = None
    tone: str | None = None
    sensitivity: str | None = None
    misleading: str | None = None
    handling: str | None = Field(None, description="Đề xuất xử lý.")
    status: str | None = Field(None, description="moi | dang_xu_ly | da_xu_ly | bo_qua")
    assignee: str | None = None
    note: str | None = None


class Evidence(BaseModel):
    """Why the classifier flagged the item."""

    relevance_reasons: list[str]
    sensitivity_reasons: list[str]
    rules_fired: list[dict[str, Any]] = Field(description="Từ khóa/quy tắc đã khớp.")
    misleading_evidence: dict[str, Any] = Field(
        description="Tuyên bố, thông tin chính thức khớp với nó, hoặc việc thiếu xác nhận."
    )
    tone_scores: dict[str, float]


class ItemOut(BaseModel):
    id: int
    url: str
    source: str = Field(description="Tên nguồn (mã).")
    source_title: str
    kind: str = Field(description="press_local | press_central | press_foreign | social")
    language: str
    title: str
    published_at: dt.datetime | None
    fetched_at: dt.datetime
    author: str | None
    story_id: int | None
    labels: Labels
    classification: ClassificationOut | None = Field(description="Nhãn gốc của bộ phân loại.")
    decision: DecisionOut | None = Field(description="Quyết định đang có hiệu lực.")


class ItemDetail(ItemOut):
    text: str
    evidence: Evidence | None
    decisions: list[DecisionOut] = Field(description="Lịch sử quyết định, cũ trước.")


class SpreadPoint(BaseModel):
    source: str
    first_seen: str = Field(description="Thời điểm nguồn này đăng lần đầu (ISO 8601).")


class StoryOut(BaseModel):
    """Copies of one piece of news across outlets."""

    id: int
    title: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    item_count: int
    outlets: list[str]
    spread: list[SpreadPoint]
    item_ids: list[int]


class Page(BaseModel):
    total: int = Field(description="Số bản ghi khớp bộ lọc.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset của trang sau; null khi hết.")


class ItemPage(Page):
    items: list[ItemOut]


class StoryPage(Page):
    items: list[StoryOut]


class DecisionPage(Page):
    items: list[DecisionOut]


def _plain(value: str | None) -> str | None:
    """NUL and lone surrogates cannot be stored (PostgreSQL, UTF-8): refuse them up front."""
    if value is not None and any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value):
        raise ValueError("Chuỗi chứa ký tự không hợp lệ.")
    return value


class DecisionIn(BaseModel):
    """A decision: a verdict and/or fields to set. A field sent as null is cleared (back to the
    classifier's label); a field left out keeps what is in force. At least one field."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    action: Verdict | None = Field(None, description="Xác nhận/bác bỏ cảnh báo, sửa nhãn, loại.")
    relevant: bool | None = None
    topics: list[Topic] | None = Field(None, max_length=len(TOPICS))
    tone: Tone | None = None
    sensitivity: Sensitivity | None = None
    misleading: Misleading | None = None
    handling: str | None = Field(None, max_length=MAX_TEXT, description="Đề xuất xử lý.")
    status: Status | None = None
    assignee: str | None = Field(
        None, max_length=64, pattern=USERNAME_PATTERN, description="Tên đăng nhập người xử lý."
    )
    note: str | None = Field(None, max_length=MAX_TEXT)

    @field_validator("handling", "note", "assignee")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return _plain(value)

    @model_validator(mode="after")
    def _not_empty(self) -> DecisionIn:
        if not self.model_fields_set:
            raise ValueError("Cần ít nhất một trường.")
        return self

    def changes(self) -> dict:
        """The fields sent (null included: it clears), without the verdict."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "action"}

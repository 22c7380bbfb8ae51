"""Recording officers' decisions: every change is a new Decision row carrying everything in
force for the item (so "the newest row is in force" holds for the digest and for training), and
an audit-log row with who, when, before and after.

`action` on a row is the verdict in force: confirm | dismiss | correct | exclude, or `note`
while nobody has given one (only assigned, a note, a status).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.accounts import audit
from store.models import Decision, Item, User, utcnow
from store.taxonomy import MISLEADING, SENSITIVITY, TONES, TOPICS

VERDICTS = ("confirm", "dismiss", "correct", "exclude")
VERDICT_VI = {
    "confirm": "Xác nhận cảnh báo",
    "dismiss": "Bác bỏ cảnh báo",
    "correct": "Sửa nhãn",
    "exclude": "Loại khỏi điểm tin",
    "note": "Ghi chú",
}
STATUS_VI = {"moi": "Mới", "dang_xu_ly": "Đang xử lý", "da_xu_ly": "Đã xử lý", "bo_qua": "Bỏ qua"}
STATUSES = tuple(STATUS_VI)
FIELD_VI = {
    "action": "Quyết định",
    "relevant": "Liên quan",
    "topics": "Chủ đề",
    "tone": "Sắc thái",
    "sensitivity": "Mức nhạy cảm",
    "misleading": "Sai lệch",
    "handling": "Đề xuất xử lý",
    "status": "Trạng thái",
    "note": "Ghi chú",
    "assignee": "Người được giao",
    "summary": "Tóm tắt",
    "rank": "Thứ tự",
}
FIELDS = (
    "relevant",
    "topics",
    "tone",
    "sensitivity",
    "misleading",
    "handling",
    "status",
    "note",
    "assignee",
    "summary",
    "rank",
)


class DecisionError(ValueError):
    """A decision that cannot be recorded (message in Vietnamese, for the officer)."""


def current(session: Session, item_id: int) -> Decision | None:
    """The decision in force for an item (newest by time, then id), or None."""
    return session.scalar(
        select(Decision)
        .where(Decision.item_id == item_id)
        .order_by(Decision.at.desc(), Decision.id.desc())
        .limit(1)
    )


def history(session: Session, item_ids: Iterable[int]) -> list[Decision]:
    """Every decision on these items, oldest first."""
    ids = list(item_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Decision).where(Decision.item_id.in_(ids)).order_by(Decision.at, Decision.id)
        )
    )


def state_of(dec: Decision | None) -> dict:
    """The decision's verdict and fields as plain data (what the audit log stores)."""
    if dec is None:
        return {}
    out: dict = {"action": dec.action}
    for name in FIELDS:
        value = getattr(dec, name)
        if value is not None:
            out[name] = list(value) if name == "topics" else value
    return out


def _clean(session: Session, changes: dict) -> dict:
    out: dict = {}
    for name, value in changes.items():
        if name not in FIELDS:
            raise DecisionError(f"Trường không hợp lệ: {name}")
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        if value is None:
            out[name] = None
            continue
        if name == "relevant":
            value = bool(value)
        elif name == "topics":
            value = [str(t) for t in value]
            bad = [t for t in value if t not in TOPICS]
            if bad:
                raise DecisionError(f"Chủ đề không hợp lệ: {', '.join(bad)}")
            value = list(dict.fromkeys(value))
        elif name == "tone" and value not in TONES:
            raise DecisionError(f"Sắc thái không hợp lệ: {value}")
        elif name == "sensitivity" and value not in SENSITIVITY:
            raise DecisionError(f"Mức nhạy cảm không hợp lệ: {value}")
        elif name == "misleading" and value not in MISLEADING:
            raise DecisionError(f"Mức sai lệch không hợp lệ: {value}")
        elif name == "status" and value not in STATUSES:
            raise DecisionError(f"Trạng thái không hợp lệ: {value}")
        elif name == "assignee":
            user = session.scalar(select(User).where(User.username == str(value).lower()))
            if user is None or not user.active:
                raise DecisionError(f"Không có cán bộ {value} để giao việc.")
            value = user.username
        elif name == "rank":
            try:
                value = int(value)
            except (TypeError, ValueError) as exc:
                raise DecisionError("Thứ tự phải là số nguyên dương.") from exc
            if value < 1:
                raise DecisionError("Thứ tự phải là số nguyên dương.")
        elif name in ("handling", "note", "summary") and len(value) > 4000:
            raise DecisionError("Nội dung quá dài (tối đa 4.000 ký tự).")
        out[name] = value
    return out


def record_decision(
    session: Session,
    item_id: int,
    *,
    user: str,
    action: str | None = None,
    changes: dict | None = None,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> Decision | None:
    """Append a decision on one item; None when it would change nothing.

    `action` is a verdict (None keeps the one in force); `changes` sets fields (None clears
    one). A dismissal clears the flags unless the officer set them in the same decision.
    """
    if action is not None and action not in VERDICTS:
        raise DecisionError(f"Quyết định không hợp lệ: {action}")
    if session.get(Item, item_id) is None:
        raise DecisionError(f"Không có tin số {item_id}.")
    changes = _clean(session, dict(changes or {}))
    before = state_of(current(session, item_id))
    after = {k: v for k, v in before.items()}
    after["action"] = action or before.get("action") or "note"
    if action == "dismiss":
        changes.setdefault("sensitivity", "binh_thuong")
        changes.setdefault("misleading", "khong")
        changes.setdefault("status", "bo_qua")
    elif action in ("confirm", "correct") and before.get("action") == "dismiss":
        for name in ("sensitivity", "misleading"):
            if name not in changes:
                after.pop(name, None)
        if before.get("status") == "bo_qua" and "status" not in changes:
            after["status"] = "moi"
    for name, value in changes.items():
        if value is None:
            after.pop(name, None)
        else:
            after[name] = value
    if after == before or (not before and after == {"action": "note"}):
        return None
    when = now or utcnow()
    dec = Decision(item_id=item_id, user=user, at=when, action=after["action"])
    for name in FIELDS:
        setattr(dec, name, after.get(name))
    session.add(dec)
    session.flush()
    audit(
        session,
        user=user,
        action=f"decision.{action or 'update'}",
        object_type="item",
        object_id=item_id,
        before=before or None,
        after=after,
        address=address,
        now=when,
    )
    return dec


def record_many(
    session: Session,
    item_ids: Iterable[int],
    *,
    user: str,
    action: str | None = None,
    changes: dict | None = None,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """The same decision on several items (bulk assign, bulk dismiss, a whole story); the
    number of items it changed."""
    when = now or utcnow()
    n = 0
    for item_id in dict.fromkeys(item_ids):
        if record_decision(
            session, item_id, user=user, action=action, changes=changes, address=address, now=when
        ):
            n += 1
    return n

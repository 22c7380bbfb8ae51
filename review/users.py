"""Accounts in the web app: the users admin (admin), one's own account with password and API
tokens (everyone), and the audit log viewer (lead and above).

The audit log is read-only here: this module has GET routes under /audit and nothing else, and
the database refuses UPDATE and DELETE on it anyway. Account changes go through store.accounts,
which writes their audit rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from review.app import render, set_cookie
from review.auth import Admin, CurrentUser, Db, Lead, client_address, now_of
from review.decisions import FIELD_VI, STATUS_VI, VERDICT_VI
from store.accounts import (
    ROLE_VI,
    ROLES,
    AccountError,
    Throttle,
    add_user,
    find_user,
    new_session,
    new_token,
    record_attempt,
    revoke_token,
    set_active,
    set_password,
    set_role,
    throttled,
    verify_password,
)
from store.models import ApiToken, AuditLog, User
from store.taxonomy import CHANNEL_VI, LEVEL_VI, MISLEADING_VI, TONE_VI, TOPIC_VI

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=200)]
Secret = Annotated[str, Form(max_length=1000)]

# ── users admin ──────────────────────────────────────────────────────────────────────────────

USERS_DONE = {
    "added": "Đã tạo tài khoản.",
    "role": "Đã đổi vai trò.",
    "on": "Đã mở khoá tài khoản.",
    "off": "Đã khoá tài khoản; các phiên đăng nhập và mã API của tài khoản này đã bị huỷ.",
    "password": "Đã đặt mật khẩu mới; các phiên đăng nhập cũ của tài khoản này đã kết thúc.",
    "same": "Không có gì thay đổi.",
}


def list_users(session: Session) -> list[User]:
    """Active accounts first, then by role (highest first) and name."""
    users = list(session.scalars(select(User).order_by(User.username)))
    return sorted(users, key=lambda u: (not u.active, -ROLES.index(u.role), u.username))


def users_page(
    request: Request,
    db: Session,
    *,
    status_code: int = 200,
    error: str | None = None,
    done: str | None = None,
    form: dict | None = None,
):
    return render(
        request,
        "users.html",
        status_code=status_code,
        users=list_users(db),
        roles=ROLES,
        error=error,
        done=USERS_DONE.get(done or ""),
        form=form or {},
    )


def target(db: Session, username: str) -> User:
    """The account an admin acts on (404 when there is none)."""
    user = find_user(db, username)
    if user is None:
        raise HTTPException(404, f"Không có tài khoản {username}.")
    return user


def back_to_users(done: str, username: str) -> RedirectResponse:
    return RedirectResponse(f"/users?done={done}#u-{username}", status_code=303)


@router.get("/users")
def users_list(request: Request, db: Db, _admin: Admin, done: str | None = None):
    return users_page(request, db, done=done)


@router.post("/users")
def users_add(
    request: Request,
    db: Db,
    admin: Admin,
    username: Text = "",
    display_name: Text = "",
    role: Annotated[str, Form(max_length=20)] = "officer",
    password: Secret = "",
):
    try:
        user = add_user(
            db, username, password, role=role, display_name=display_name, by=admin.username
        )
    except AccountError as exc:
        db.rollback()
        form = {"username": username, "display_name": display_name, "role": role}
        return users_page(request, db, status_code=400, error=str(exc), form=form)
    db.commit()
    return back_to_users("added", user.username)


@router.post("/users/{username}/role")
def users_role(
    request: Request,
    db: Db,
    admin: Admin,
    username: str,
    role: Annotated[str, Form(max_length=20)],
):
    user = target(db, username)
    if role == user.role:
        return back_to_users("same", user.username)
    if user.id == admin.id:
        return users_page(
            request,
            db,
            status_code=400,
            error="Không thể tự đổi vai trò của chính mình (để không mất quyền quản trị).",
        )
    try:
        set_role(db, user.username, role, by=admin.username)
    except AccountError as exc:
        return users_page(request, db, status_code=400, error=str(exc))
    db.commit()
    return back_to_users("role", user.username)


@router.post("/users/{username}/active")
def users_active(
    request: Request,
    db: Db,
    admin: Admin,
    username: str,
    active: Annotated[int, Form(ge=0, le=1)],
):
    user = target(db, username)
    if bool(active) == user.active:
        return back_to_users("same", user.username)
    if user.id == admin.id:
        return users_page(
            request, db, status_code=400, error="Không thể tự khoá tài khoản của chính mình."
        )
    set_active(db, user.username, bool(active), by=admin.username)
    db.commit()
    return back_to_users("on" if active else "off", user.username)


@router.post("/users/{username}/password")
def users_password(
    request: Request,
    db: Db,
    admin: Admin,
    username: str,
    password: Secret = "",
):
    user = target(db, username)
    if user.id == admin.id:
        return users_page(
            request,
            db,
            status_code=400,
            error="Mật khẩu của chính mình đổi ở trang Tài khoản (cần mật khẩu hiện tại).",
        )
    try:
        set_password(db, user.username, password, by=admin.username)
    except AccountError as exc:
        db.rollback()
        return users_page(request, db, status_code=400, error=f"{user.username}: {exc}")
    db.commit()
    return back_to_users("password", user.username)


# ── own account ──────────────────────────────────────────────────────────────────────────────

ACCOUNT_DONE = {
    "password": "Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc.",
    "revoked": "Đã thu hồi mã truy cập.",
}


def own_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, live ones first, newest first."""
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    )
    return sorted(tokens, key=lambda t: t.revoked_at is not None)


def account_page(
    request: Request,
    db: Session,
    user: User,
    *,
    status_code: int = 200,
    error: str | None = None,
    done: str | None = None,
    new_secret: str | None = None,
    new_name: str | None = None,
):
    return render(
        request,
        "account.html",
        status_code=status_code,
        me=user,
        tokens=own_tokens(db, user),
        error=error,
        done=ACCOUNT_DONE.get(done or ""),
        new_secret=new_secret,
        new_name=new_name,
    )


@router.get("/account")
def account(request: Request, db: Db, user: CurrentUser, done: str | None = None):
    return account_page(request, db, user, done=done)


@router.post("/account/password")
def account_password(
    request: Request,
    db: Db,
    user: CurrentUser,
    current: Secret = "",
    new: Secret = "",
    again: Secret = "",
):
    cfg = request.app.state.config
    now = now_of(request)
    address = client_address(request)
    rules = Throttle(cfg.web.max_failures_per_user, cfg.web.max_failures_per_address)
    if throttled(db, user.username, address, rules, now):
        return account_page(
            request,
            db,
            user,
            status_code=429,
            error="Nhập sai mật khẩu quá nhiều lần. Hãy đợi một phút rồi thử lại.",
        )
    if not verify_password(user, current):
        record_attempt(db, user.username, address, False, now)
        db.commit()
        return account_page(
            request, db, user, status_code=400, error="Mật khẩu hiện tại không đúng."
        )
    if new != again:
        return account_page(
            request, db, user, status_code=400, error="Hai lần nhập mật khẩu mới không khớp."
        )
    if new == current:
        return account_page(
            request,
            db,
            user,
            status_code=400,
            error="Mật khẩu mới phải khác mật khẩu hiện tại.",
        )
    try:
        set_password(db, user.username, new, by=user.username)
    except AccountError as exc:
        db.rollback()
        return account_page(request, db, user, status_code=400, error=str(exc))
    # set_password ended every session of this user, this browser's too: give it a fresh one.
    secret, _ = new_session(db, user=user, address=address, now=now)
    db.commit()
    response = RedirectResponse("/account?done=password", status_code=303)
    set_cookie(request, response, secret)
    return response


@router.post("/account/tokens")
def account_token_add(
    request: Request, db: Db, user: CurrentUser, name: Annotated[str, Form(max_length=120)] = ""
):
    secret, row = new_token(db, user, name)
    db.commit()
    # Shown once, in this response only: never in a URL, a redirect or the store.
    return account_page(request, db, user, status_code=201, new_secret=secret, new_name=row.name)


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(request: Request, db: Db, user: CurrentUser, token_id: int):
    if not revoke_token(db, user, token_id):
        raise HTTPException(404, "Không có mã truy cập này (hoặc đã thu hồi).")
    db.commit()
    return RedirectResponse("/account?done=revoked", status_code=303)


# ── audit log (read-only) ────────────────────────────────────────────────────────────────────

ACTION_VI = {
    "signin": "Đăng nhập",
    "decision.confirm": VERDICT_VI["confirm"],
    "decision.dismiss": VERDICT_VI["dismiss"],
    "decision.correct": VERDICT_VI["correct"],
    "decision.exclude": VERDICT_VI["exclude"],
    "decision.update": "Cập nhật xử lý tin",
    "user.add": "Tạo tài khoản",
    "user.passwd": "Đặt mật khẩu",
    "user.enable": "Mở khoá tài khoản",
    "user.disable": "Khoá tài khoản",
    "user.role": "Đổi vai trò",
    "token.add": "Tạo mã API",
    "token.revoke": "Thu hồi mã API",
    "source.enable": "Bật lại nguồn tin",
    "source.disable": "Tạm dừng nguồn tin",
    "digest.approve": "Duyệt điểm tin",
    "digest.send": "Gửi điểm tin",
    "digest.edit": "Sửa điểm tin",
}
ACTION_GROUP_VI = {
    "decision": "Quyết định về tin",
    "user": "Tài khoản",
    "token": "Mã API",
    "source": "Nguồn tin",
    "digest": "Điểm tin",
}
OBJECT_VI = {
    "item": "Tin",
    "user": "Tài khoản",
    "api_token": "Mã API",
    "source": "Nguồn tin",
    "digest": "Điểm tin",
    "story": "Câu chuyện",
}
VALUE_VI: dict[str, dict[str, str]] = {
    "action": {**VERDICT_VI},
    "tone": TONE_VI,
    "sensitivity": LEVEL_VI,
    "misleading": MISLEADING_VI,
    "status": STATUS_VI,
    "role": ROLE_VI,
    "kind": CHANNEL_VI,
}
PAGE_SIZE = 50
MAX_VALUE = 160


def action_label(action: str) -> str:
    if action in ACTION_VI:
        return ACTION_VI[action]
    group, _, rest = action.partition(".")
    return f"{ACTION_GROUP_VI[group]}: {rest}" if rest and group in ACTION_GROUP_VI else action


def show_value(field: str, value: Any) -> str:
    """One value of a before/after, in words: labels for codes, có/không, short text."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "có" if value else "không"
    if field == "topics" and isinstance(value, list):
        text = ", ".join(TOPIC_VI.get(str(t), str(t)) for t in value)
    elif isinstance(value, str):
        text = VALUE_VI.get(field, {}).get(value, value)
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str | None  # None: the field was not there before (a creation)
    new: str | None  # None: the field is gone after


def changes(before: dict | None, after: dict | None) -> list[Change]:
    """What differs between before and after, field by field (after's order first)."""
    before, after = before or {}, after or {}
    out = []
    for field in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(field), after.get(field)
        if field in before and field in after and old == new:
            continue
        out.append(
            Change(
                field,
                FIELD_VI.get(field, field),
                show_value(field, old) if field in before else None,
                show_value(field, new) if field in after else None,
            )
        )
    return out


@dataclass(frozen=True)
class AuditFilter:
    user: str = ""
    action: str = ""  # an action, or a group as "decision.*"
    object_type: str = ""
    object_id: str = ""

    def where(self) -> list:
        out = []
        if self.user:
            out.append(AuditLog.user == self.user)
        if self.action.endswith(".*"):
            out.append(AuditLog.action.startswith(self.action[:-1], autoescape=True))
        elif self.action:
            out.append(AuditLog.action == self.action)
        if self.object_type:
            out.append(AuditLog.object_type == self.object_type)
        if self.object_id:
            out.append(AuditLog.object_id == self.object_id)
        return out

    def query(self, page: int | None = None) -> str:
        params = {k: v for k, v in vars(self).items() if v}
        if page and page > 1:
            params["page"] = str(page)
        return urlencode(params)


def audit_rows(session: Session, flt: AuditFilter, page: int) -> tuple[list[AuditLog], int, int]:
    """One page of rows, newest first; how many rows match in all; the page shown (the one
    asked for, kept within the pages there are)."""
    where = flt.where()
    total = session.scalar(select(func.count(AuditLog.id)).where(*where)) or 0
    page = min(max(page, 1), max(1, -(-total // PAGE_SIZE)))
    rows = session.scalars(
        select(AuditLog)
        .where(*where)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return list(rows), total, page


def audit_choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """The users, actions and object kinds present in the log, for the filter's lists."""
    users = session.scalars(select(AuditLog.user).distinct().order_by(AuditLog.user))
    actions = sorted(set(session.scalars(select(AuditLog.action).distinct())) | set(ACTION_VI))
    groups = sorted({a.split(".")[0] for a in actions if "." in a} & set(ACTION_GROUP_VI))
    kinds = sorted(set(session.scalars(select(AuditLog.object_type).distinct())) | set(OBJECT_VI))
    return {
        "users": [(u, u) for u in users],
        "actions": [(f"{g}.*", f"{ACTION_GROUP_VI[g]} (mọi thao tác)") for g in groups]
        + [(a, action_label(a)) for a in actions],
        "kinds": [(k, OBJECT_VI.get(k, k)) for k in kinds],
    }


def object_link(object_type: str, object_id: str) -> str | None:
    """A page about the object, where the app has one."""
    if object_type == "item" and object_id.isdigit():
        return f"/items/{object_id}"
    return None


@router.get("/audit")
def audit_page(
    request: Request,
    db: Db,
    _lead: Lead,
    user: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    page: str = "1",
):
    # Lenient by design: a hand-edited query string gives a page, never a validation error.
    flt = AuditFilter(
        user.strip()[:120], action.strip()[:60], object_type.strip()[:40], object_id.strip()[:120]
    )
    wanted = int(page) if page.isdigit() and len(page) < 7 else 1
    rows, total, page_no = audit_rows(db, flt, wanted)
    pages = max(1, -(-total // PAGE_SIZE))
    entries = [
        {
            "row": r,
            "label": action_label(r.action),
            "kind": OBJECT_VI.get(r.object_type, r.object_type),
            "link": object_link(r.object_type, r.object_id),
            "changes": changes(r.before, r.after),
        }
        for r in rows
    ]
    return render(
        request,
        "audit.html",
        entries=entries,
        total=total,
        page=page_no,
        pages=pages,
        flt=flt,
        choices=audit_choices(db),
        page_url=lambda p: "/audit?" + flt.query(p),
    )

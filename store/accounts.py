"""Accounts, browser sessions, API tokens and sign-in throttling, kept in the store.

Passwords are hashed with argon2 (argon2-cffi); session and token secrets are random and only
their SHA-256 is stored, so a copy of the database lets nobody in. Every function takes a
Session and returns data; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store.models import ApiToken, AuditLog, LoginAttempt, User, WebSession, utcnow

ROLES = ("officer", "lead", "admin")
ROLE_VI = {"officer": "Cán bộ theo dõi", "lead": "Lãnh đạo phòng", "admin": "Quản trị"}
MIN_PASSWORD = 10
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN_PREFIX = "dt_"

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("không-có-tài-khoản-này")


class AccountError(ValueError):
    """A request about an account that cannot be done (message in Vietnamese)."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed) if role in ROLES else False


def check_password_strength(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.")
    if username and username.lower() in password.lower():
        raise AccountError("Mật khẩu không được chứa tên đăng nhập.")


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def audit(
    session: Session,
    *,
    user: str,
    action: str,
    object_type: str,
    object_id: str | int,
    before: dict | None = None,
    after: dict | None = None,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> AuditLog:
    """Append one row to the audit log (the only way the app writes it)."""
    row = AuditLog(
        at=now or utcnow(),
        user=user,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        address=address,
    )
    session.add(row)
    return row


def add_user(
    session: Session,
    username: str,
    password: str,
    *,
    role: str = "officer",
    display_name: str = "",
    by: str = "cli",
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError(
            "Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch ngang (2–64 ký tự)."
        )
    if role not in ROLES:
        raise AccountError(f"Vai trò phải là một trong: {', '.join(ROLES)}.")
    if find_user(session, username):
        raise AccountError(f"Tài khoản {username} đã có.")
    check_password_strength(password, username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        password_hash=_hasher.hash(password),
    )
    session.add(user)
    session.flush()
    audit(
        session,
        user=by,
        action="user.add",
        object_type="user",
        object_id=username,
        after={"role": role, "display_name": user.display_name},
    )
    return user


def set_password(session: Session, username: str, password: str, *, by: str = "cli") -> User:
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"Không có tài khoản {username}.")
    check_password_strength(password, user.username)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = utcnow()
    # A new password ends every session and token-less sign-in made with the old one.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit(session, user=by, action="user.passwd", object_type="user", object_id=user.username)
    return user


def set_active(session: Session, username: str, active: bool, *, by: str = "cli") -> User:
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"Không có tài khoản {username}.")
    before = user.active
    user.active = active
    if not active:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        for token in session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = utcnow()
    audit(
        session,
        user=by,
        action="user.enable" if active else "user.disable",
        object_type="user",
        object_id=user.username,
        before={"active": before},
        after={"active": active},
    )
    return user


def set_role(session: Session, username: str, role: str, *, by: str) -> User:
    if role not in ROLES:
        raise AccountError(f"Vai trò phải là một trong: {', '.join(ROLES)}.")
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"Không có tài khoản {username}.")
    before, user.role = user.role, role
    audit(
        session,
        user=by,
        action="user.role",
        object_type="user",
        object_id=user.username,
        before={"role": before},
        after={"role": role},
    )
    return user


def verify_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(
            user and user.active
        )
    except (VerificationError, InvalidHashError):
        return False


# ── sign-in throttling ───────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Throttle:
    """Failures allowed per rolling window, per user name and per address."""

    per_user: int = 5
    per_address: int = 20
    window: dt.timedelta = dt.timedelta(minutes=1)


def throttled(
    session: Session, username: str, address: str, rules: Throttle, now: dt.datetime
) -> bool:
    """True when the failures in the window already reach a limit: this attempt is refused
    without checking the password."""
    since = now - rules.window
    fails = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.ok.is_(False), LoginAttempt.at > since
    )
    by_user = session.scalar(fails.where(LoginAttempt.username == username.strip().lower()))
    by_addr = session.scalar(fails.where(LoginAttempt.address == address))
    return (by_user or 0) >= rules.per_user or (by_addr or 0) >= rules.per_address


def record_attempt(
    session: Session, username: str, address: str, ok: bool, now: dt.datetime
) -> None:
    session.add(
        LoginAttempt(at=now, username=username.strip().lower()[:80], address=address[:64], ok=ok)
    )
    # Keep the table small: a day of attempts is plenty for throttling and for a look back.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - dt.timedelta(days=1)))


# ── browser sessions ─────────────────────────────────────────────────────────────────────────


def new_session(
    session: Session, *, user: User | None, address: str, now: dt.datetime
) -> tuple[str, WebSession]:
    """(the cookie's secret, the row). A fresh secret and CSRF token every time: signing in
    always makes a new session, so a session id planted before sign-in is worthless after."""
    secret = secrets.token_urlsafe(32)
    row = WebSession(
        id=digest(secret),
        user_id=user.id if user else None,
        csrf=secrets.token_urlsafe(32),
        address=address[:64],
        created_at=now,
        last_seen=now,
    )
    session.add(row)
    return secret, row


def load_session(
    session: Session, secret: str | None, *, idle: dt.timedelta, now: dt.datetime
) -> WebSession | None:
    """The live session for a cookie's secret, touched; None (and the row gone) when idle too
    long or when its user was disabled."""
    if not secret or len(secret) > 200:
        return None
    row = session.get(WebSession, digest(secret))
    if row is None:
        return None
    if now - row.last_seen > idle:
        session.delete(row)
        return None
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            session.delete(row)
            return None
    if now - row.last_seen > dt.timedelta(seconds=30):  # one write a minute at most per session
        row.last_seen = now
    return row


def end_session(session: Session, secret: str | None) -> None:
    if secret:
        session.execute(delete(WebSession).where(WebSession.id == digest(secret)))


def sweep_sessions(session: Session, *, idle: dt.timedelta, now: dt.datetime) -> int:
    return session.execute(delete(WebSession).where(WebSession.last_seen < now - idle)).rowcount


# ── API tokens ───────────────────────────────────────────────────────────────────────────────


def new_token(
    session: Session, user: User, name: str, *, by: str | None = None
) -> tuple[str, ApiToken]:
    """(the token, shown once; the row)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name.strip()[:120] or "API",
        token_hash=digest(secret),
        prefix=secret[:10],
    )
    session.add(row)
    session.flush()
    audit(
        session,
        user=by or user.username,
        action="token.add",
        object_type="api_token",
        object_id=row.id,
        after={"name": row.name, "owner": user.username},
    )
    return secret, row


def revoke_token(session: Session, user: User, token_id: int, *, by: str | None = None) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    audit(
        session,
        user=by or user.username,
        action="token.revoke",
        object_type="api_token",
        object_id=row.id,
        before={"name": row.name},
    )
    return True


def user_for_token(session: Session, secret: str, now: dt.datetime) -> User | None:
    if not secret or len(secret) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        row.last_used_at = now
    return user

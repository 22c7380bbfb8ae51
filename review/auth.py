"""Who is asking: browser sessions (cookie), CSRF on every form post, roles, API tokens.

Every page but sign-in needs a signed-in user (else a redirect to /login); every state-changing
form carries the session's CSRF token (else 403); the JSON API takes only `Authorization:
Bearer <token>` (else 401) and never the cookie, so a foreign page cannot drive it.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from store.accounts import load_session, role_at_least, user_for_token
from store.models import User, WebSession

COOKIE = "diemtin_session"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = ("/login", "/static/", "/healthz")


class NeedsLogin(Exception):
    """Raised for pages when nobody is signed in; the app turns it into a redirect."""


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "") or "?"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.config.web.force_secure_cookies


def get_db(request: Request) -> Iterator[Session]:
    """One database session per request; committed when the handler returns normally."""
    session = request.app.state.factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.expunge_all()  # the visitor's rows stay readable for the error page
        session.rollback()
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]


def now_of(request: Request) -> dt.datetime:
    return request.app.state.clock()


@dataclass
class Visitor:
    """The browser session of this request (None when it has none) and its user."""

    web: WebSession | None
    user: User | None

    @property
    def csrf(self) -> str:
        return self.web.csrf if self.web else ""


async def guard(request: Request, db: Db) -> Visitor:
    """App-wide: load the browser session and check CSRF on unsafe methods (API excepted)."""
    path = request.url.path
    if path.startswith("/api/"):
        visitor = Visitor(None, None)
        request.state.visitor = visitor
        return visitor
    cfg = request.app.state.config
    web = load_session(
        db,
        request.cookies.get(COOKIE),
        idle=dt.timedelta(minutes=cfg.web.idle_minutes),
        now=now_of(request),
    )
    user = db.get(User, web.user_id) if web is not None and web.user_id else None
    visitor = Visitor(web, user)
    request.state.visitor = visitor
    if request.method in UNSAFE:
        sent = request.headers.get("x-csrf-token")
        if sent is None:
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if web is None or not sent or not hmac.compare_digest(sent, web.csrf):
            db.commit()  # an idle session's removal still counts
            raise HTTPException(
                403,
                "Biểu mẫu không hợp lệ hoặc phiên làm việc đã hết hạn. "
                "Hãy tải lại trang và thử lại.",
            )
    if user is None and not path.startswith(PUBLIC):
        db.commit()
        raise NeedsLogin()
    return visitor


def signed_in(request: Request) -> User:
    user = request.state.visitor.user
    if user is None:
        raise NeedsLogin()
    return user


CurrentUser = Annotated[User, Depends(signed_in)]


def require(role: str):
    """A dependency: the signed-in user with at least `role` (officer < lead < admin), else 403."""

    def check(user: CurrentUser) -> User:
        if not role_at_least(user.role, role):
            raise HTTPException(403, "Tài khoản của anh/chị không có quyền làm việc này.")
        return user

    return check


Lead = Annotated[User, Depends(require("lead"))]
Admin = Annotated[User, Depends(require("admin"))]


def api_user(request: Request, db: Db) -> User:
    """The JSON API's caller, by `Authorization: Bearer <token>`; 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    user = (
        user_for_token(db, token.strip(), now_of(request)) if scheme.lower() == "bearer" else None
    )
    if user is None:
        raise HTTPException(
            401,
            "Cần mã truy cập API hợp lệ (Authorization: Bearer …).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


ApiUser = Annotated[User, Depends(api_user)]

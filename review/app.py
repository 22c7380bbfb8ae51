"""The officers' review web app (FastAPI, server-rendered jinja2, works without JavaScript).

`create_app(settings)` builds it; `serve(settings, host=, port=)` runs it with uvicorn (what
`diemtin serve` and `diemtin web` call). Pages live in one router per area (queue, items, desk,
search, sources, users, api); this module holds sign-in, errors and the security headers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from review.auth import (
    COOKIE,
    Db,
    NeedsLogin,
    Visitor,
    client_address,
    guard,
    is_https,
    now_of,
)
from store.accounts import (
    ROLE_VI,
    Throttle,
    audit,
    end_session,
    find_user,
    new_session,
    record_attempt,
    role_at_least,
    sweep_sessions,
    throttled,
    verify_password,
)
from store.db import open_store
from store.models import utcnow
from store.settings import TEMPLATES_DIR, Settings, WebSettings
from store.taxonomy import CHANNEL_VI, LEVEL_VI, MISLEADING_VI, TONE_VI, TOPIC_VI

STATIC_DIR = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


@dataclass
class AppConfig:
    settings: Settings
    profile_name: str
    web: WebSettings


def templates() -> Jinja2Templates:
    from review.decisions import STATUS_VI, VERDICT_VI

    t = Jinja2Templates(directory=str(TEMPLATES_DIR / "review"))
    t.env.globals.update(
        TOPIC_VI=TOPIC_VI,
        TONE_VI=TONE_VI,
        LEVEL_VI=LEVEL_VI,
        MISLEADING_VI=MISLEADING_VI,
        CHANNEL_VI=CHANNEL_VI,
        STATUS_VI=STATUS_VI,
        VERDICT_VI=VERDICT_VI,
        ROLE_VI=ROLE_VI,
        role_at_least=role_at_least,
    )
    return t


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page, with the visitor, the CSRF token and the local time zone in its context."""
    visitor: Visitor = getattr(request.state, "visitor", Visitor(None, None))
    tz = request.app.state.tz
    context.update(
        request=request,
        user=visitor.user,
        csrf=visitor.csrf,
        tz=tz,
        local=lambda t: t.astimezone(tz) if t else None,
    )
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )


MAX_ID = 2**63 - 1


def as_id(text: str | None, hi: int = MAX_ID) -> int | None:
    """A positive whole number up to `hi` from a path segment or a form field; None for anything
    else, so /items/abc is a 404 like a missing row and a huge number never reaches the DB."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= hi else None


def safe_next(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme) is followed after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    return value


def set_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        COOKIE, secret, httponly=True, samesite="lax", secure=is_https(request), path="/"
    )


def create_app(
    settings: Settings,
    *,
    factory: sessionmaker[Session] | None = None,
    profile_name: str | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    from zoneinfo import ZoneInfo

    app = FastAPI(
        title="Điểm tin — API",
        version="1",
        description=(
            "Tin bài, câu chuyện và quyết định của cán bộ theo dõi, cho các hệ thống khác của "
            "tỉnh. Mỗi lời gọi cần mã truy cập cá nhân: `Authorization: Bearer <mã>` (tạo ở "
            "trang Tài khoản)."
        ),
        dependencies=[Depends(guard)],
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.factory = factory or open_store(settings.db_url)
    app.state.config = AppConfig(settings, profile_name or settings.profile, settings.web)
    app.state.clock = clock
    app.state.tz = ZoneInfo(settings.timezone)
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NeedsLogin)
    async def to_login(request: Request, _exc: NeedsLogin):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            message=exc.detail,
            code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)
        return render(
            request,
            "error.html",
            status_code=422,
            code=422,
            message="Dữ liệu gửi lên không hợp lệ: "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
            ),
        )

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, db: Db, next: str | None = None):
        visitor: Visitor = request.state.visitor
        if visitor.user is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        secret = None
        if visitor.web is None:
            secret, web = new_session(
                db, user=None, address=client_address(request), now=now_of(request)
            )
            visitor.web = web
        db.commit()
        response = render(request, "login.html", next=safe_next(next), error=None)
        if secret:
            set_cookie(request, response, secret)
        return response

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        db: Db,
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=1000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/queue",
    ):
        cfg = request.app.state.config
        now = now_of(request)
        address = client_address(request)
        rules = Throttle(cfg.web.max_failures_per_user, cfg.web.max_failures_per_address)
        if throttled(db, username, address, rules, now):
            record_attempt(db, username, address, False, now)
            db.commit()
            return render(
                request,
                "login.html",
                status_code=429,
                next=safe_next(next),
                error="Đăng nhập sai quá nhiều lần. Hãy đợi một phút rồi thử lại.",
            )
        user = find_user(db, username) if username else None
        ok = verify_password(user, password)
        record_attempt(db, username, address, ok, now)
        if not ok:
            db.commit()
            return render(
                request,
                "login.html",
                status_code=401,
                next=safe_next(next),
                error="Sai tên đăng nhập hoặc mật khẩu.",
            )
        # A new session id at sign-in; the visitor's session (and its CSRF token) ends.
        end_session(db, request.cookies.get(COOKIE))
        sweep_sessions(db, idle=dt.timedelta(minutes=cfg.web.idle_minutes), now=now)
        secret, _ = new_session(db, user=user, address=address, now=now)
        audit(
            db,
            user=user.username,
            action="signin",
            object_type="user",
            object_id=user.username,
            address=address,
            now=now,
        )
        db.commit()
        response = RedirectResponse(safe_next(next), status_code=303)
        set_cookie(request, response, secret)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, db: Db):
        end_session(db, request.cookies.get(COOKIE))
        db.commit()
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    for router in routers():
        app.include_router(router)
    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    return [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": e["type"]} for e in exc.errors()]


def routers() -> list:
    """The area routers, one module each (imported here: they import `render` from this
    module)."""
    from review import api, desk, items, queue, search, sources, users

    return [m.router for m in (queue, items, desk, search, sources, users, api)]


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the app (blocking) with uvicorn; X-Forwarded-Proto is believed only from
    `web.trusted_proxies`, so cookies are Secure behind the office's HTTPS proxy."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.web.trusted_proxies,
        log_level="warning",
    )

"""The digest desk (bàn biên tập điểm tin): the day's draft as it will be sent, edited entry by
entry, approved and sent by a lead.

Every edit is an officer's decision on all the entry's items (`review.decisions.record_many`:
audited, and read by the digest like any other decision), after which the draft is rebuilt. An
edit after approval rebuilds with ``force=True``, which withdraws the approval (the lead must
approve again); a digest that is being sent or was sent is never edited. Sending goes through
`digest.deliver.send_digest`, whose ledger never sends a recipient the same digest twice.

Messages after a redirect travel as short codes (``?msg=saved``), never as text from the request.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.build import (
    DigestResult,
    WindowState,
    build_digest,
    collect,
    excluded_rows,
    find_converter,
    open_window_warning,
    refresh_sections,
    window_state,
)
from digest.deliver import DeliveryError, find_digest, inert_html, ledger, send_digest
from digest.model import SECTION_HANDLING, DigestData, Entry, Section, from_json
from digest.render import CHART_CID
from digest.schedule import DeliveryConfig, deadline_time, delivery_config, send_time
from digest.select import clean_text, clean_title
from digest.smtp import SendBusy
from review.app import as_id, render
from review.auth import CurrentUser, Db, Lead, client_address, now_of
from review.decisions import DecisionError, history, record_many
from store.accounts import audit, role_at_least
from store.models import AuditLog, Delivery, Digest, User
from store.profile import Profile, load_profile
from store.settings import Settings

router = APIRouter(include_in_schema=False)

STATUS_VI = {
    "built": "Bản nháp",
    "approved": "Đã duyệt",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "failed": "Lỗi gửi",
}
DELIVERY_VI = {"pending": "Chờ gửi", "sent": "Đã gửi", "failed": "Lỗi gửi"}
EDITABLE = ("built", "approved")
SENDABLE = ("approved", "sending", "failed", "sent")
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
MESSAGES = {
    "built": ("notice", "Đã lập bản nháp."),
    "rebuilt": ("notice", "Đã lập lại bản nháp theo các quyết định mới nhất."),
    "saved": ("notice", "Đã lưu; bản nháp đã được lập lại."),
    "nochange": ("notice", "Không có gì thay đổi."),
    "excluded": ("notice", "Đã loại tin khỏi bản tin; bản nháp đã được lập lại."),
    "included": ("notice", "Đã đưa tin trở lại bản tin; bản nháp đã được lập lại."),
    "moved": ("notice", "Đã đổi thứ tự; bản nháp đã được lập lại."),
    "withdrawn": ("alert", "Bản tin đã thay đổi sau khi duyệt: cần duyệt lại."),
    "locked": ("alert", "Bản tin đang gửi hoặc đã gửi: không sửa hay lập lại được nữa."),
    "missing": (
        "alert",
        "Không tìm thấy tin này trong bản tin (có thể vừa thay đổi); hãy xem lại.",
    ),
    "nodigest": ("alert", "Chưa có bản tin của ngày này: hãy tạo bản nháp trước."),
    "approved": ("notice", "Đã duyệt bản tin."),
    "already": ("notice", "Bản tin đã được duyệt từ trước."),
    "changed": ("alert", "Bản tin đã thay đổi từ lúc anh/chị mở trang: hãy xem lại rồi duyệt."),
    "unapproved": ("alert", "Cần duyệt bản tin trước khi gửi."),
    "busy": ("alert", "Đang có một lượt gửi khác; hãy thử lại sau ít phút."),
    "senderror": ("alert", "Không gửi được: xem «Lần gửi gần nhất» bên dưới."),
}


# ── what the desk works on ───────────────────────────────────────────────────────────────────


@dataclass
class Desk:
    """The profile, its delivery keys and the clock of one request."""

    factory: sessionmaker[Session]
    settings: Settings
    profile: Profile
    name: str  # the digests' profile name (the profile file's stem, as the cycle names it)
    cfg: DeliveryConfig
    tz: ZoneInfo
    now: dt.datetime
    pdf: bool  # build the PDF with each draft (what is built is what is sent)
    cache: dict = field(default_factory=dict)  # digest id → Cached (on the app's state)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(self.tz).date()


def profile_of(state, path: Path) -> tuple[Profile, DeliveryConfig]:
    """The profile and its delivery keys, parsed again only when the file changed (kept on
    the app's state, keyed by the file's path, mtime and size)."""
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    cached = getattr(state, "desk_profile", None)
    if key is not None and cached is not None and cached[0] == key:
        return cached[1], cached[2]
    profile, _problems = load_profile(path)
    cfg = delivery_config(profile)
    if key is not None:
        state.desk_profile = (key, profile, cfg)
    return profile, cfg


def desk_of(request: Request) -> Desk:
    config = request.app.state.config
    path = Path(config.settings.profile_path(config.profile_name))
    profile, cfg = profile_of(request.app.state, path)
    return Desk(
        factory=request.app.state.factory,
        settings=config.settings,
        profile=profile,
        name=path.stem,
        cfg=cfg,
        tz=request.app.state.tz,
        now=now_of(request),
        pdf=bool(getattr(request.app.state, "desk_pdf", True)),
        cache=desk_cache(request.app.state),
    )


def desk_cache(state) -> dict:
    cache = getattr(state, "desk_cache", None)
    if cache is None:
        cache = state.desk_cache = {}
    return cache


def build(desk: Desk, day: dt.date, *, force: bool = False, pdf: bool | None = None):
    """Build (or rebuild) the day's digest; approved ones only with ``force``."""
    return build_digest(
        desk.factory,
        desk.profile,
        desk.name,
        day,
        desk.settings,
        now=desk.now,
        force=force,
        pdf=desk.pdf if pdf is None else pdf,
    )


def version_of(row: Digest, state: WindowState) -> str:
    """What the lead looked at: this build, the window's items and the decisions on them (any
    of them changing changes what the desk shows)."""
    return (
        f"{row.id}-{row.built_at.timestamp():.6f}-{state.items}-{state.newest_item}"
        f"-{state.newest_decision}"
    )


@dataclass
class ExcludedGroup:
    """Items of one story left out of the digest by a decision."""

    item_ids: list[int]
    title: str
    outlets: list[str]
    by: str | None
    at: dt.datetime | None


def excluded_groups(session: Session, row: Digest) -> list[ExcludedGroup]:
    """The window's items left out by a decision in force, one group per story."""
    groups: dict[tuple, list[tuple]] = {}
    for member in excluded_rows(session, row.window_start, row.window_end):
        iid, _title, _outlet, story_id, _decision = member
        key = ("s", story_id) if story_id is not None else ("i", iid)
        groups.setdefault(key, []).append(member)
    out = []
    for members in groups.values():
        newest = max((m[4] for m in members), key=lambda d: (d.at, d.id))
        out.append(
            ExcludedGroup(
                item_ids=[m[0] for m in members],
                title=clean_title(members[0][1], [members[0][2]]),
                outlets=list(dict.fromkeys(m[2] for m in members)),
                by=newest.user,
                at=newest.at,
            )
        )
    return out


def stored_data(row: Digest) -> DigestData | None:
    """The digest model the build archived beside its files (digest.model.to_json); None for
    a digest built before it was archived, or when the file is another build's."""
    path = (row.files or {}).get("json")
    if not path:
        return None
    try:
        data = from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.built_at == row.built_at else None


@dataclass
class Cached:
    """A digest as the desk showed it, for as long as nothing it was made from changed."""

    key: tuple
    profile: Profile
    data: DigestData
    state: WindowState


CACHED_DIGESTS = 4


def made_data(
    session: Session, desk: Desk, row: Digest, state: WindowState
) -> tuple[DigestData, WindowState]:
    data = stored_data(row)
    if data is None:  # built before the model was archived: from the store, as the build did
        data = collect(
            session, desk.profile, desk.name, row.date, row.number, desk.settings, now=desk.now
        )
        return data, state
    if state.newest_item > data.newest_item:
        state = window_state(
            session, row.window_start, row.window_end, row.built_at, data.newest_item
        )
    if row.status in EDITABLE and state.changed:
        data.sections = refresh_sections(session, desk.profile, desk.settings, data, state.changed)
        data.stories = len(data.entries)
    return data, state


def digest_data(session: Session, desk: Desk, row: Digest) -> tuple[DigestData, WindowState]:
    """What the desk shows, and the window's state: the build's own model (archived beside its
    files), with the stories decided on or arrived since the build made again while the digest
    can still change. Kept on the app's state until the build, the window's items, their
    decisions, the digest's status or the profile change (a few aggregate queries tell)."""
    state = window_state(session, row.window_start, row.window_end, row.built_at)
    key = (row.status, version_of(row, state))
    cached = desk.cache.get(row.id)
    if cached is not None and cached.key == key and cached.profile is desk.profile:
        data, state = cached.data, cached.state
    else:
        data, state = made_data(session, desk, row, state)
        desk.cache.pop(row.id, None)
        for old in list(desk.cache)[: max(0, len(desk.cache) - CACHED_DIGESTS + 1)]:
            desk.cache.pop(old, None)  # the least recently made first
        desk.cache[row.id] = Cached(key, desk.profile, data, state)
    if desk.now >= data.window_end:  # a warning of the build no longer true: not shown
        gone = open_window_warning(data.window_end)
        data = replace(data, warnings=[w for w in data.warnings if w != gone])
    return data, state


def editable_sections(data: DigestData) -> list[Section]:
    return [s for s in data.sections if not s.brief]


FULL_ENTRIES = 30  # entries of a long section drawn with their forms; the rest by title


@dataclass
class SectionView:
    """One section as the page draws it: `full` entries with their forms, the `rest` as a list
    of titles, each linking to the section opened in full (``?section=<code>``)."""

    section: Section
    full: list[Entry]
    rest: list[Entry]


def folded(section: Section) -> bool:
    """Whether the page shows only the first entries of this section in full (section I, what
    needs handling, is always shown whole)."""
    return section.code != SECTION_HANDLING and len(section.entries) > FULL_ENTRIES


def section_views(sections: list[Section], opened: str | None) -> list[SectionView]:
    out = []
    for s in sections:
        n = FULL_ENTRIES if folded(s) and s.code != opened else len(s.entries)
        out.append(SectionView(s, s.entries[:n], s.entries[n:]))
    return out


def find_entry(data: DigestData, item_id: int) -> tuple[Section, Entry] | None:
    for section in editable_sections(data):
        for entry in section.entries:
            if item_id in entry.item_ids:
                return section, entry
    return None


def reorder(order: list[Entry], entry: Entry, position: int) -> list[tuple[Entry, int]]:
    """The ranks to write so that `entry` lands at `position` (1-based) of its section.

    Entries up to the furthest of its old place, its new place and the last ranked entry get
    ranks 1, 2, …; the ones after stay unranked (the digest's own order, after the ranked).
    """
    old = order.index(entry)
    new = min(max(position, 1), len(order)) - 1
    moved = [e for e in order if e is not entry]
    moved.insert(new, entry)
    last_ranked = max((i for i, e in enumerate(order) if e.rank is not None), default=-1)
    upto = max(old, new, last_ranked) + 1
    return [(e, n) for n, e in enumerate(moved[:upto], 1)]


def verdict_before_exclusion(session: Session, item_id: int) -> str:
    """The verdict an item had before it was excluded (confirm when it had none)."""
    for dec in reversed(history(session, [item_id])):
        if dec.action != "exclude":
            return dec.action if dec.action in ("confirm", "dismiss", "correct") else "confirm"
    return "confirm"


def digest_audits(session: Session, digest_id: int) -> list[AuditLog]:
    return list(
        session.scalars(
            select(AuditLog)
            .where(AuditLog.object_type == "digest", AuditLog.object_id == str(digest_id))
            .order_by(AuditLog.id.desc())  # append-only: the newest row is the last
        )
    )


# ── the page ─────────────────────────────────────────────────────────────────────────────────


@dataclass
class DeskView:
    day: dt.date
    row: Digest | None = None
    data: DigestData | None = None
    excluded: list[ExcludedGroup] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    stale: bool = False  # decisions newer than the build (the preview does not have them)
    arrived: int = 0  # items that came after the build (the preview does not have them either)
    version: str = ""  # what an approval from this page approves (see version_of)
    withdrawn: AuditLog | None = None  # the approval was withdrawn by this edit, and not renewed
    last_send: AuditLog | None = None
    approver: str | None = None  # the approver's display name


def load_view(session: Session, desk: Desk, day: dt.date) -> DeskView:
    view = DeskView(day=day, row=find_digest(session, desk.name, day))
    row = view.row
    if row is None:
        return view
    view.data, state = digest_data(session, desk, row)
    view.excluded = excluded_groups(session, row)
    view.stale = row.status in EDITABLE and bool(state.decided)
    view.arrived = len(state.arrived) if row.status in EDITABLE else 0
    view.version = version_of(row, state)
    view.deliveries = ledger(session, row.id)
    audits = digest_audits(session, row.id)
    newest_approval = next(
        (a for a in audits if a.action in ("digest.approve", "digest.withdraw")), None
    )
    if row.status == "built" and newest_approval and newest_approval.action == "digest.withdraw":
        view.withdrawn = newest_approval
    view.last_send = next((a for a in audits if a.action == "digest.send"), None)
    if row.approved_by:
        who = session.scalar(select(User).where(User.username == row.approved_by))
        view.approver = (who.display_name if who else None) or row.approved_by
    return view


def schedule_text(desk: Desk, day: dt.date) -> list[str]:
    """The profile's schedule for the day, in Vietnamese."""
    cfg = desk.cfg
    at = send_time(day, cfg).astimezone(cfg.tz)
    lines = [f"Giờ gửi theo lịch: {at:%H:%M} ngày {at:%d/%m/%Y} (giờ {cfg.timezone})."]
    if cfg.require_approval:
        limit = deadline_time(day, cfg).astimezone(cfg.tz)
        lines.append("Bản tin chờ lãnh đạo duyệt: đã duyệt thì gửi đúng giờ.")
        if cfg.send_unapproved:
            lines.append(f"Đến {limit:%H:%M} mà chưa duyệt thì hệ thống gửi bản chưa duyệt.")
        else:
            lines.append(f"Quá hạn duyệt ({limit:%H:%M}) vẫn không gửi bản chưa duyệt.")
    else:
        lines.append("Không chờ duyệt: đến giờ, hệ thống tự gửi bản nháp hiện tại.")
    return lines


QueryText = Annotated[str | None, Query()]
Text = Annotated[str, Form()]  # parsed here: a malformed field gets a page, not a crash
BAD_INPUT = "Dữ liệu gửi lên không hợp lệ. Hãy tải lại trang và thử lại."


def as_day(text: str | None) -> dt.date | None:
    """YYYY-MM-DD, else None."""
    text = (text or "").strip()
    if len(text) != 10:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def desk_url(
    day: dt.date, msg: str | None = None, anchor: str = "", section: str | None = None, **extra: int
) -> str:
    url = f"/desk?day={day.isoformat()}"
    if section:  # a section code (digest.model), opened in full
        url += f"&section={section}"
    if msg:
        url += f"&msg={msg}"
    for key, value in extra.items():
        url += f"&{key}={int(value)}"
    return url + (f"#{anchor}" if anchor else "")


def go(
    day: dt.date, msg: str | None = None, anchor: str = "", section: str | None = None, **extra: int
) -> RedirectResponse:
    return RedirectResponse(desk_url(day, msg, anchor, section, **extra), status_code=303)


def send_message(sent: int, already: int, failed: int) -> tuple[str, str]:
    parts = [f"đã gửi cho {sent} người nhận"]
    if already:
        parts.append(f"{already} người nhận đã có bản tin từ trước (không gửi lại)")
    if failed:
        parts.append(f"{failed} người nhận chưa gửi được (xem sổ gửi)")
    text = "Kết quả gửi: " + "; ".join(parts) + "."
    return ("alert" if failed else "notice"), text


@router.get("/desk", response_class=HTMLResponse)
def desk_page(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: QueryText = None,
    msg: QueryText = None,
    n: QueryText = None,
    a: QueryText = None,
    f: QueryText = None,
    section: QueryText = None,
):
    desk = desk_of(request)
    wanted = as_day(day) if day else desk.today
    if wanted is None:
        raise HTTPException(422, BAD_INPUT)
    day = wanted
    if day == desk.today and find_digest(db, desk.name, day) is None:
        db.commit()  # end this read before another session writes (SQLite)
        build(desk, day)
    db.commit()
    view = load_view(db, desk, day)
    if msg == "sent":
        message = send_message(*(min(as_id(v) or 0, 10000) for v in (n, a, f)))
    else:
        message = MESSAGES.get(msg or "")
    return show(
        request,
        desk,
        view,
        opened=section,
        message=message,
        can_lead=role_at_least(user.role, "lead"),
    )


def show(
    request: Request, desk: Desk, view: DeskView, opened: str | None = None, **context
) -> HTMLResponse:
    row = view.row
    sections = editable_sections(view.data) if view.data else []
    opened = opened if any(s.code == opened for s in sections) else None
    return render(
        request,
        "desk.html",
        desk=desk,
        view=view,
        row=row,
        data=view.data,
        sections=section_views(sections, opened),
        opened=opened,
        full_entries=FULL_ENTRIES,
        positive=next((s for s in view.data.sections if s.brief), None) if view.data else None,
        editable=row is not None and row.status in EDITABLE,
        status_vi=STATUS_VI.get(row.status, row.status) if row else "Chưa lập",
        delivery_vi=DELIVERY_VI,
        schedule=schedule_text(desk, view.day),
        recipients=desk.cfg.recipients,
        version=view.version,
        prev_day=view.day - dt.timedelta(days=1),
        next_day=view.day + dt.timedelta(days=1),
        last_send=view.last_send,
        **context,
    )


@router.get("/desk/preview")
def desk_preview(request: Request, db: Db, user: CurrentUser, day: QueryText = None) -> Response:
    """The e-mail body as built, alone, under a CSP of its own (no script, no fetch): it is
    shown in a sandboxed frame. The chart, referenced as cid:, is inlined as data:."""
    desk = desk_of(request)
    wanted = as_day(day) if day else desk.today
    if wanted is None:
        raise HTTPException(422, BAD_INPUT)
    row = find_digest(db, desk.name, wanted)
    files = (row.files or {}) if row else {}
    html_path = Path(files["html"]) if files.get("html") else None
    if html_path is None or not html_path.is_file():
        raise HTTPException(404, "Chưa có bản tin của ngày này.")
    body = inert_html(html_path.read_text(encoding="utf-8"))
    png = Path(files["png"]) if files.get("png") else None
    if png is not None and png.is_file():
        data_uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        body = body.replace(f"cid:{CHART_CID}", data_uri)
    return HTMLResponse(body, headers={"Content-Security-Policy": PREVIEW_CSP})


# ── building ─────────────────────────────────────────────────────────────────────────────────


def withdraw_if_rebuilt(
    db: Session,
    user: User,
    request: Request,
    desk: Desk,
    before: tuple[str, str | None, dt.datetime | None] | None,
    result: DigestResult,
) -> bool:
    """Record that a rebuild withdrew an approval; whether it did."""
    if before is None or before[0] != "approved" or result.frozen:
        return False
    audit(
        db,
        user=user.username,
        action="digest.withdraw",
        object_type="digest",
        object_id=result.digest_id,
        before={
            "status": "approved",
            "approved_by": before[1],
            "approved_at": before[2].isoformat() if before[2] else None,
        },
        after={"status": "built"},
        address=client_address(request),
        now=desk.now,
    )
    db.commit()
    return True


def state_of_row(row: Digest | None) -> tuple[str, str | None, dt.datetime | None] | None:
    return (row.status, row.approved_by, row.approved_at) if row is not None else None


@router.post("/desk/build")
def desk_build(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: Text = "",
    force: Text = "",
):
    """Create or refresh the draft. Refreshing never touches an approved digest unless a lead
    asks (`force`), which withdraws the approval."""
    forced = force == "true"
    if forced and not role_at_least(user.role, "lead"):
        raise HTTPException(403, "Chỉ lãnh đạo được lập lại bản tin đã duyệt (bỏ duyệt).")
    if (day := as_day(day)) is None:
        raise HTTPException(422, BAD_INPUT)
    desk = desk_of(request)
    row = find_digest(db, desk.name, day)
    if row is not None and row.status not in EDITABLE:
        return go(day, "locked")
    before = state_of_row(row)
    db.commit()
    result = build(desk, day, force=forced)
    if withdraw_if_rebuilt(db, user, request, desk, before, result):
        return go(day, "withdrawn")
    return go(day, "rebuilt" if row is not None else "built")


# ── editing entries ──────────────────────────────────────────────────────────────────────────


def edit_entry(
    request: Request,
    db: Session,
    user: User,
    day_text: str,
    item_text: str,
    change,
    done: str,
) -> Response:
    """Find the entry holding the item in the day's digest, let `change(desk, entry, section)`
    record decisions (returning how many items changed), then rebuild the draft."""
    day, item_id = as_day(day_text), as_id(item_text)
    if day is None or item_id is None:
        raise HTTPException(422, BAD_INPUT)
    desk = desk_of(request)
    row = find_digest(db, desk.name, day)
    if row is None:
        return go(day, "nodigest")
    if row.status not in EDITABLE:
        return go(day, "locked")
    data, _state = digest_data(db, desk, row)
    found = find_entry(data, item_id)
    if found is None:
        return go(day, "missing")
    section, entry = found
    try:
        changed = change(desk, entry, section)
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from exc
    anchor = f"tin-{entry.item_ids[0]}"
    opened = section.code if folded(section) else None  # back to the entry's forms
    if not changed:
        return go(day, "nochange", anchor, opened)
    return rebuild_after_edit(request, db, user, desk, day, done, anchor, opened)


def rebuild_after_edit(
    request: Request,
    db: Session,
    user: User,
    desk: Desk,
    day: dt.date,
    done: str,
    anchor: str,
    section: str | None = None,
) -> RedirectResponse:
    db.commit()
    before = state_of_row(find_digest(db, desk.name, day))
    db.commit()
    if before is not None and before[0] not in EDITABLE:  # sent meanwhile: the edit stays a
        return go(day, "locked")  # decision on the items, the sent digest is left as it was
    result = build(desk, day, force=True)
    if withdraw_if_rebuilt(db, user, request, desk, before, result):
        return go(day, "withdrawn", anchor, section)
    return go(day, done, anchor, section)


def same_text(new: str, old: str | None) -> bool:
    return clean_text(new) == clean_text(old)


def edit_text(request: Request, db, user, day: str, item_id: str, field: str, value: str):
    """Set the entry's `field` (summary or handling) on all its items; empty: back to the
    automatic text."""

    def change(desk: Desk, entry: Entry, _section: Section) -> int:
        if value.strip() and same_text(value, getattr(entry, field)):
            return 0
        return record_many(
            db,
            entry.item_ids,
            user=user.username,
            changes={field: value},
            address=client_address(request),
            now=desk.now,
        )

    return edit_entry(request, db, user, day, item_id, change, "saved")


@router.post("/desk/summary")
def desk_summary(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: Text = "",
    item_id: Text = "",
    summary: Text = "",
):
    """The entry's summary as the digest prints it; empty: back to the automatic one."""
    return edit_text(request, db, user, day, item_id, "summary", summary)


@router.post("/desk/handling")
def desk_handling(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: Text = "",
    item_id: Text = "",
    handling: Text = "",
):
    """The proposed handling (đề xuất); empty: back to the profile's rules."""
    return edit_text(request, db, user, day, item_id, "handling", handling)


@router.post("/desk/exclude")
def desk_exclude(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: Text = "",
    item_id: Text = "",
):
    def change(desk: Desk, entry: Entry, _section: Section) -> int:
        return record_many(
            db,
            entry.item_ids,
            user=user.username,
            action="exclude",
            address=client_address(request),
            now=desk.now,
        )

    return edit_entry(request, db, user, day, item_id, change, "excluded")


@router.post("/desk/move")
def desk_move(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: Text = "",
    item_id: Text = "",
    direction: Text = "",
    position: Text = "",
):
    """Move an entry within its section: one place up or down, or to a numbered place."""

    def change(desk: Desk, entry: Entry, section: Section) -> int:
        order = section.entries
        here = order.index(entry) + 1
        if direction == "up":
            target = here - 1
        elif direction == "down":
            target = here + 1
        elif as_id(position, 10000) is not None:
            target = as_id(position, 10000)
        else:
            return 0
        target = min(max(target, 1), len(order))
        if target == here and entry.rank is not None:
            return 0
        n = 0
        for e, rank in reorder(order, entry, target):
            n += record_many(
                db,
                e.item_ids,
                user=user.username,
                changes={"rank": rank},
                address=client_address(request),
                now=desk.now,
            )
        return n

    return edit_entry(request, db, user, day, item_id, change, "moved")


@router.post("/desk/include")
def desk_include(
    request: Request,
    db: Db,
    user: CurrentUser,
    day: Text = "",
    item_id: Text = "",
):
    """Put an excluded story back: each item gets back the verdict it had before."""
    if (day := as_day(day)) is None or (item := as_id(item_id)) is None:
        raise HTTPException(422, BAD_INPUT)
    desk = desk_of(request)
    row = find_digest(db, desk.name, day)
    if row is None:
        return go(day, "nodigest")
    if row.status not in EDITABLE:
        return go(day, "locked")
    group = next((g for g in excluded_groups(db, row) if item in g.item_ids), None)
    if group is None:
        return go(day, "missing")
    by_verdict: dict[str, list[int]] = {}
    for iid in group.item_ids:
        by_verdict.setdefault(verdict_before_exclusion(db, iid), []).append(iid)
    for verdict, ids in by_verdict.items():
        record_many(
            db,
            ids,
            user=user.username,
            action=verdict,
            address=client_address(request),
            now=desk.now,
        )
    return rebuild_after_edit(request, db, user, desk, day, "included", f"tin-{item}")


# ── approving and sending (leads) ────────────────────────────────────────────────────────────


@router.post("/desk/approve")
def desk_approve(
    request: Request,
    db: Db,
    user: Lead,
    day: Text = "",
    version: Text = "",
):
    """Approve what the lead looked at: refused when the digest, its items or their decisions
    changed since the page was drawn; a draft older than the decisions the page showed is
    rebuilt first (with its PDF), then approved."""
    if (day := as_day(day)) is None:
        raise HTTPException(422, BAD_INPUT)
    desk = desk_of(request)
    row = find_digest(db, desk.name, day)
    if row is None:
        return go(day, "nodigest")
    if row.status == "approved":
        return go(day, "already")
    if row.status != "built":
        return go(day, "locked")
    _data, state = digest_data(db, desk, row)
    if version != version_of(row, state):
        return go(day, "changed")
    no_pdf = desk.pdf and "pdf" not in (row.files or {}) and find_converter() is not None
    if state.changed or no_pdf:
        db.commit()
        build(desk, day)
    db.commit()
    row = db.get(Digest, row.id, with_for_update=True)
    db.refresh(row)
    if row.status != "built":
        return go(day, "locked")
    row.status, row.approved_by, row.approved_at = "approved", user.username, desk.now
    audit(
        db,
        user=user.username,
        action="digest.approve",
        object_type="digest",
        object_id=row.id,
        before={"status": "built"},
        after={"status": "approved", "approved_by": user.username, "number": row.number},
        address=client_address(request),
        now=desk.now,
    )
    db.commit()
    return go(day, "approved")


@router.post("/desk/send")
def desk_send(request: Request, db: Db, user: Lead, day: Text = ""):
    """Send the approved digest now to every recipient who does not have it yet."""
    if (day := as_day(day)) is None:
        raise HTTPException(422, BAD_INPUT)
    desk = desk_of(request)
    row = find_digest(db, desk.name, day)
    if row is None:
        return go(day, "nodigest")
    if row.status not in SENDABLE:
        return go(day, "unapproved")
    digest_id = row.id
    db.commit()
    try:
        result = send_digest(
            desk.factory, desk.settings, desk.profile, desk.name, day, now=desk.now
        )
    except SendBusy:
        return go(day, "busy")
    except DeliveryError as exc:
        audit(
            db,
            user=user.username,
            action="digest.send",
            object_type="digest",
            object_id=digest_id,
            after={"error": str(exc)},
            address=client_address(request),
            now=desk.now,
        )
        db.commit()
        return go(day, "senderror")
    audit(
        db,
        user=user.username,
        action="digest.send",
        object_type="digest",
        object_id=digest_id,
        after={
            "status": result.status,
            "sent": list(result.sent),
            "already": list(result.already),
            "failed": dict(result.failed),
        },
        address=client_address(request),
        now=desk.now,
    )
    db.commit()
    return go(day, "sent", n=len(result.sent), a=len(result.already), f=len(result.failed))

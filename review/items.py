"""The item page (`GET /items/{id}`): the text with its evidence highlighted, the story's other
copies, earlier decisions, and the decision form (`POST /items/{id}/decision`).

A decision passes on only what the officer changed on the form (compared with the values the
form was drawn with), so confirming a flag never freezes the classifier's labels as corrections.
Every post appends; nothing here edits or deletes a decision.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.build import topic_thresholds
from digest.select import safe_url, topics_of
from review.app import as_id, render
from review.auth import CurrentUser, Db, client_address, now_of
from review.decisions import (
    VERDICTS,
    DecisionError,
    current,
    history,
    record_decision,
    record_many,
)
from review.evidence import build_evidence
from store.models import Classification, Decision, Item, Source, Story, User

router = APIRouter(include_in_schema=False)

LABELS = ("tone", "sensitivity", "misleading")
TEXTS = ("handling", "note")
CHOICES = ("status", "assignee")


def norm(value: str | None) -> str:
    """A form value as compared and stored: newlines as the browser may send them, trimmed."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def in_force(dec: Decision | None, cls: Classification | None, thresholds: dict) -> dict:
    """The values the form is drawn with: the decision in force (empty: as classified), and the
    topics the officer sees as ticked (corrected ones, else the classifier's)."""
    out = {name: "" for name in (*LABELS, *TEXTS, *CHOICES)}
    if dec is not None:
        for name in out:
            out[name] = getattr(dec, name) or ""
    if dec is not None and dec.topics is not None:
        out["topics"] = [str(t) for t in dec.topics]
    elif cls is not None:
        out["topics"] = topics_of(cls.topics, cls.rules_fired, thresholds)
    else:
        out["topics"] = []
    return out


def form_changes(sent: dict, was: dict, shown: dict) -> dict:
    """The fields the officer changed: each sent value against the form's hidden "was" value
    (or, from a client without it, the value in force). Unsent fields are left alone."""
    out: dict = {}
    for name in (*LABELS, *TEXTS, *CHOICES):
        value = sent.get(name)
        if value is None:
            continue
        before = was.get(name)
        if before is None:
            before = shown.get(name, "")
        if norm(value) != norm(before):
            out[name] = norm(value) or None
    topics = sent.get("topics")
    before_topics = was.get("topics")
    if before_topics is not None:
        old = {t for t in before_topics.split(",") if t}
    elif topics:
        old = set(shown.get("topics", []))
    else:
        old = None
    if old is not None and set(topics or []) != old:
        out["topics"] = list(dict.fromkeys(topics or []))
    return out


def story_items(db: Session, story_id: int) -> list[tuple[Item, Source]]:
    return [
        (it, src)
        for it, src in db.execute(
            select(Item, Source)
            .join(Classification, Classification.item_id == Item.id)
            .join(Source, Source.id == Item.source_id)
            .where(Classification.story_id == story_id)
            .order_by(Item.published_at, Item.id)
        )
    ]


def load_item(db: Session, item_id: str) -> Item | None:
    """The item of a path segment; None for anything but a stored item's id (so /items/abc is a
    404 like any other missing item)."""
    n = as_id(item_id)
    return db.get(Item, n) if n else None


def not_found(item_id: str) -> HTTPException:
    return HTTPException(404, f"Không có tin số {item_id[:40]}.")


def page(
    request: Request,
    db: Session,
    item: Item,
    *,
    error: str | None = None,
    draft: dict | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The item page; `draft` (what the officer sent) refills the form after an error."""
    cls = db.get(Classification, item.id)
    source = db.get(Source, item.source_id)
    story = db.get(Story, cls.story_id) if cls is not None and cls.story_id else None
    copies = story_items(db, story.id) if story is not None else [(item, source)]
    decisions = history(db, [it.id for it, _ in copies] or [item.id])
    outlets = {s.name: s.title for s in db.scalars(select(Source))}
    dec = current(db, item.id)
    thresholds = topic_thresholds(request.app.state.config.settings)
    shown = in_force(dec, cls, thresholds)
    form = dict(shown, verdict="", story=story is not None and len(copies) > 1)
    if draft:
        form.update({k: v for k, v in draft.items() if v is not None})
    users = list(db.scalars(select(User).where(User.active).order_by(User.username)))
    names = {u.username: u.display_name or u.username for u in users}
    if form["assignee"] and form["assignee"] not in names:
        names[form["assignee"]] = form["assignee"]
    classified = {
        "topics": topics_of(cls.topics, cls.rules_fired, thresholds) if cls else [],
        "tone": cls.tone if cls else None,
        "sensitivity": cls.sensitivity if cls else None,
        "misleading": cls.misleading if cls else None,
    }
    return render(
        request,
        "item.html",
        status_code=status_code,
        item=item,
        source=source,
        cls=cls,
        story=story,
        ev=build_evidence(item, cls, copies=copies, decisions=decisions, outlets=outlets),
        original=safe_url(item.url),
        dec=dec,
        shown=shown,
        form=form,
        classified=classified,
        names=names,
        verdicts=VERDICTS,
        notice=notice_of(request.query_params.get("ghi")),
        error=error,
    )


def notice_of(value: str | None) -> str | None:
    """The notice after a decision was posted (`?ghi=N`: N items changed)."""
    if value is None or not value.isdigit() or len(value) > 6:
        return None
    n = int(value)
    if n == 0:
        return "Không có gì thay đổi: quyết định đang có hiệu lực giữ nguyên."
    if n == 1:
        return "Đã ghi quyết định."
    return f"Đã ghi quyết định cho {n} tin trong câu chuyện."


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, db: Db, user: CurrentUser, item_id: str):
    item = load_item(db, item_id)
    if item is None:
        raise not_found(item_id)
    return page(request, db, item)


# No length limits here: review.decisions refuses over-long text with a message the officer
# reads on the page (Starlette already bounds a form part to 1 MB).
Text = Annotated[str | None, Form()]
Short = Annotated[str | None, Form()]


@router.post("/items/{item_id}/decision")
def item_decision(
    request: Request,
    db: Db,
    user: CurrentUser,
    item_id: str,
    verdict: Short = None,
    topics: Annotated[list[str] | None, Form()] = None,
    was_topics: Short = None,
    tone: Short = None,
    was_tone: Short = None,
    sensitivity: Short = None,
    was_sensitivity: Short = None,
    misleading: Short = None,
    was_misleading: Short = None,
    handling: Text = None,
    was_handling: Text = None,
    status: Short = None,
    was_status: Short = None,
    assignee: Short = None,
    was_assignee: Short = None,
    note: Text = None,
    was_note: Text = None,
    story: Short = None,
):
    item = load_item(db, item_id)
    if item is None:
        raise not_found(item_id)
    sent = {
        "topics": topics,
        "tone": tone,
        "sensitivity": sensitivity,
        "misleading": misleading,
        "handling": handling,
        "status": status,
        "assignee": assignee,
        "note": note,
    }
    was = {
        "topics": was_topics,
        "tone": was_tone,
        "sensitivity": was_sensitivity,
        "misleading": was_misleading,
        "handling": was_handling,
        "status": was_status,
        "assignee": was_assignee,
        "note": was_note,
    }
    cls = db.get(Classification, item.id)
    thresholds = topic_thresholds(request.app.state.config.settings)
    shown = in_force(current(db, item.id), cls, thresholds)
    changes = form_changes(sent, was, shown)
    action = norm(verdict) or None
    ids = [item.id]
    if story and cls is not None and cls.story_id:
        ids = [it.id for it, _ in story_items(db, cls.story_id)] or ids
    who = dict(
        user=user.username,
        action=action,
        changes=changes,
        address=client_address(request),
        now=now_of(request),
    )
    try:
        # All or nothing, without undoing the request's own session bookkeeping.
        with db.begin_nested():
            if len(ids) > 1:
                n = record_many(db, ids, **who)
            else:
                n = 1 if record_decision(db, item.id, **who) is not None else 0
    except DecisionError as exc:
        draft = {k: v for k, v in sent.items() if k != "topics"}
        if topics is not None or was_topics is not None:
            draft["topics"] = topics or []
        draft.update(verdict=action or "", story=bool(story))
        return page(request, db, item, error=str(exc), draft=draft, status_code=400)
    db.commit()
    return RedirectResponse(f"/items/{item.id}?ghi={n}", status_code=303)

"""Building one day's digest: select, count, render, archive, and record it in the store.

    result = build_digest(factory, profile, "demo", date(2026, 11, 21), settings)
    result.files["html"], result.subject, result.number

Archive: ``<data_dir>/digests/<yyyy>/<profile>-<yyyy-mm-dd>/`` holds ``diem-tin.html`` (the
e-mail body, chart as ``cid:bieu-do``), ``diem-tin.txt``, ``diem-tin.docx``, ``bieu-do.png`` and
``diem-tin.pdf`` when LibreOffice (``soffice``) is on PATH.

The Digest row: one per (profile, date). Rebuilding the same day keeps its number; a new day
takes the year's highest number + 1. A digest that is sent, being sent, partly delivered, or
approved is frozen: it is returned as it is (files untouched); ``force=True`` rebuilds an
approved one (its approval is withdrawn), never a sent one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from classify.text import match_key, strip_diacritics
from store.taxonomy import LEVEL_VI

from .handling import load_rules
from .model import DigestData, Entry, Section, to_json
from .render import render_chart, render_docx, render_html, render_text, subject
from .select import (
    CHUNK,
    _in_window,
    build_sections,
    group_rows,
    included,
    latest_decisions,
    load_facts,
    load_rows,
    load_texts,
    make_entry,
    outlet_name,
    pick_representative,
    select_entries,
)
from .stats import (
    AVG_DAYS,
    HISTORY_DAYS,
    by_day,
    count_day,
    counts,
    new_outlets,
    parse_hhmm,
    spikes,
    topic_label,
    window_for,
)

log = logging.getLogger(__name__)

FILES = {
    "html": "diem-tin.html",
    "txt": "diem-tin.txt",
    "docx": "diem-tin.docx",
    "pdf": "diem-tin.pdf",
    "png": "bieu-do.png",
    "json": "diem-tin.json",  # the model (digest.model.to_json): what the desk reads back
}
# Statuses a rebuild never touches ("approved" only yields to force=True; see _frozen).
FROZEN = ("sent", "sending", "approved")
PDF_TIMEOUT = 180


@dataclass
class DigestResult:
    digest_id: int
    number: int
    day: date
    files: dict[str, Path]
    subject: str
    data: DigestData
    unlabelled: bool
    frozen: bool = False  # returned as it was (sent, sending or approved): nothing rewritten
    warnings: list[str] = field(default_factory=list)  # for the operator (PDF skipped, …)


def archive_dir(settings, profile_name: str, day: date) -> Path:
    return Path(settings.data_dir) / "digests" / f"{day:%Y}" / f"{profile_name}-{day:%Y-%m-%d}"


def digest_config(profile) -> dict:
    block = (getattr(profile, "model_extra", None) or {}).get("digest") or {}
    return block if isinstance(block, dict) else {}


@lru_cache(maxsize=8)
def _thresholds(heads_dir: str) -> dict[str, float]:
    try:
        meta = json.loads((Path(heads_dir) / "meta.json").read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in (meta.get("thresholds") or {}).items()}
    except (OSError, ValueError, TypeError):
        return {}


def topic_thresholds(settings) -> dict[str, float]:
    """The shipped heads' per-topic thresholds (a topic is shown at or above its own)."""
    import classify

    heads = getattr(settings, "heads_dir", None) or (
        Path(classify.__file__).parent / "models" / "default"
    )
    return _thresholds(str(heads))


def agency_lines(agency: str, province: str) -> list[str]:
    """ "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long" → ["SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH",
    "TỈNH VĨNH LONG"] (the left header of an administrative document)."""
    m = re.match(rf"^(.*?)\s+((?:tỉnh|thành phố)\s+{re.escape(province)})$", agency.strip(), re.I)
    if m:
        return [m.group(1).upper(), m.group(2).upper()]
    return [agency.upper()]


def agency_code(agency: str, province: str) -> str:
    """ "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long" → "SVHTTDL" (initials, without "và" and
    the province)."""
    name = agency_lines(agency, province)[0]
    words = [w for w in re.findall(r"\w+", name) if w.lower() not in ("và", "của")]
    return strip_diacritics("".join(w[0] for w in words)).upper() or "DT"


def next_number(session: Session, profile_name: str, year: int) -> int:
    from store.models import Digest

    top = session.scalar(
        select(func.max(Digest.number)).where(Digest.profile == profile_name, Digest.year == year)
    )
    return int(top or 0) + 1


def _delivered(session: Session, row) -> bool:
    """Whether any recipient already has this digest (then it must never change)."""
    from store.models import Delivery

    return bool(
        session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.digest_id == row.id, Delivery.status == "sent"
            )
        )
    )


def _frozen(session: Session, row, force: bool) -> bool:
    """Sent, being sent or partly delivered: always; approved: unless forced."""
    if row.status in ("sent", "sending") or _delivered(session, row):
        return True
    return row.status == "approved" and not force


# ── collecting the data ──────────────────────────────────────────────────────────────────────


def collect(
    session: Session,
    profile,
    profile_name: str,
    day: date,
    number: int,
    settings,
    *,
    now: datetime,
) -> DigestData:
    """Everything the digest says, from the store (reads only)."""
    from store.models import Digest, Source, Story

    cfg = digest_config(profile)
    tz = ZoneInfo(getattr(profile, "timezone", None) or settings.timezone)
    start_t = parse_hhmm(cfg.get("window_start"))
    ws, we = window_for(day, tz, start_t)
    rules = load_rules(getattr(profile, "model_extra", None))
    thresholds = topic_thresholds(settings)
    province = profile.province.name

    sel = select_entries(
        session, ws, we, rules=rules, tz=tz, thresholds=thresholds, province_names=[province]
    )
    sections = build_sections(sel.entries)

    # Counts: this day, the 14 before it (for spikes), the 7 before it (for averages).
    days = [day - timedelta(days=k) for k in range(HISTORY_DAYS, -1, -1)]
    hist_start, _ = window_for(days[0], tz, start_t)
    facts = load_facts(session, hist_start, we, thresholds=thresholds)
    per_day = by_day(facts, tz, start_t, days)
    day_counts = {d: count_day(d, per_day[d]) for d in days}
    before = [day_counts[d] for d in reversed(days[:-1])]  # newest first
    tones, chans, total = counts(day_counts[day], before[:AVG_DAYS])

    notices: list[str] = []
    topic_days = {d: Counter(t for f in per_day[d] for t in f.topics) for d in days}
    for s in spikes(
        topic_days[day],
        [topic_days[d] for d in days[:-1]],
        kind="topic",
        labels={t: topic_label(t) for t in topic_days[day]},
    ):
        notices.append(s.text)

    story_ids = {e.story_id for e in sel.entries if e.story_id is not None}
    stories = (
        {s.id: s for s in session.scalars(select(Story).where(Story.id.in_(story_ids)))}
        if story_ids
        else {}
    )
    older = {sid for sid, s in stories.items() if s.first_seen < ws}
    story_spikes = []
    if older:
        story_days = {
            d: Counter(f.story_id for f in per_day[d] if f.story_id in older) for d in days
        }
        titles = {e.story_id: e.title for e in sel.entries if e.story_id in older}
        story_spikes = spikes(
            story_days[day], [story_days[d] for d in days[:-1]], kind="story", labels=titles
        )

    prev = session.scalar(
        select(Digest)
        .where(Digest.profile == profile_name, Digest.date < day)
        .order_by(Digest.date.desc())
        .limit(1)
    )
    since = max(prev.window_end, ws - timedelta(days=7)) if prev else ws
    since = min(since, ws)
    source_titles = {
        n: outlet_name(t, n) for n, t in session.execute(select(Source.name, Source.title))
    }
    spreading = {}
    for e in sections[0].entries:
        notice = _spreading(e, stories.get(e.story_id), since, we, source_titles)
        if notice:
            spreading[e.story_id] = notice
    # One notice per story: its spread to new outlets says more than its volume.
    notices += [s.text for s in story_spikes if s.key not in spreading]
    notices += list(spreading.values())

    unlabelled_n = sel.unlabelled_count
    n_items = len(sel.included)
    if unlabelled_n and unlabelled_n == n_items:
        unl_text = (
            f"Chưa phân loại: cả {n_items} tin, bài trong khung giờ chưa được phân loại tự động, "
            "nên bản điểm tin gồm mọi tin thu thập được (chưa lọc tin không liên quan, chưa đánh "
            "giá sắc thái, mức nhạy cảm); mục I chưa có đề xuất xử lý."
        )
    elif unlabelled_n:
        unl_text = (
            f"Chưa phân loại: {unlabelled_n}/{n_items} tin, bài trong khung giờ chưa được phân "
            "loại tự động; các tin này được đưa vào nguyên trạng (chưa lọc, chưa đánh giá)."
        )
    else:
        unl_text = ""

    warnings = list(rules.problems)
    if now < we:
        warnings.append(open_window_warning(we))
    if unlabelled_n:
        warnings.append(f"{unlabelled_n} tin chưa phân loại: chạy `diemtin classify`.")

    code = str(cfg.get("code") or f"ĐT-{agency_code(profile.agency, province)}")
    data = DigestData(
        agency=profile.agency,
        province=province,
        number=number,
        day=day,
        window_start=ws,
        window_end=we,
        counts_tone=tones,
        counts_channel=chans,
        total=total,
        stories=len(sel.entries),
        notices=notices,
        sections=sections,
        unlabelled=unlabelled_n > 0,
        unlabelled_count=unlabelled_n,
        unlabelled_text=unl_text,
        history=[day_counts[d] for d in days[-7:]],
        profile_name=profile_name,
        timezone=str(tz),
        built_at=now.astimezone(tz),
        agency_lines=[
            str(x) for x in cfg.get("agency_lines") or agency_lines(profile.agency, province)
        ],
        code=code,
        place=str(cfg.get("place") or province),
        signer_title=str(cfg.get("signer_title") or ""),
        signer_name=str(cfg.get("signer_name") or ""),
        recipients_note=[str(x) for x in cfg.get("noi_nhan") or []],
        warnings=warnings,
        newest_item=max((r.id for r in sel.rows), default=0),
    )
    return data


def open_window_warning(window_end: datetime) -> str:
    """The warning of a digest built before its window ended."""
    return (
        f"Khung giờ chưa kết thúc (đến {window_end:%H:%M %d/%m/%Y}): bản điểm tin có thể thiếu tin."
    )


def _spreading(e: Entry, story, since: datetime, until: datetime, titles: dict) -> str | None:
    """A sensitive story that reached new outlets since the previous digest."""
    if story is None or not e.needs_handling:
        return None
    new, before = new_outlets(story.spread or [], since, until)
    new = [n for n in new if n not in before]
    if not new or not before:
        return None
    shown = []
    for n in new:
        t = titles.get(n, n)
        if t not in shown:
            shown.append(t)
    level = LEVEL_VI.get(e.sensitivity or "", "") if e.sensitivity != "binh_thuong" else ""
    what = f"Tin {level.lower()}" if level else "Tin cần xử lý"
    return (
        f"{what} «{e.title}» (mục {e.ref}) lan sang {len(shown)} nguồn mới kể từ bản điểm tin "
        f"trước: {', '.join(shown)}; trước đó đã có trên {len(before)} nguồn."
    )


# ── the desk: what changed in a window since its digest was built ──────────────────────────


@dataclass
class WindowState:
    """What a digest's window holds now, against what the digest was built from."""

    items: int  # items in the window
    newest_item: int  # the highest item id among them
    newest_decision: int  # the highest Decision id on them
    decided: set[int]  # items with a decision newer than the build
    arrived: set[int]  # items that came after the build (id above the build's newest)

    @property
    def changed(self) -> set[int]:
        return self.decided | self.arrived


def window_state(
    session: Session,
    start: datetime,
    end: datetime,
    built_at: datetime,
    built_newest: int | None = None,
) -> WindowState:
    """A few aggregate queries, never the window's rows. `built_newest`: the highest item id
    the build saw (DigestData.newest_item); None when unknown (no item counts as arrived)."""
    from store.models import Decision, Item

    window = _in_window(start, end)
    items, newest = session.execute(
        select(func.count(Item.id), func.max(Item.id)).where(window)
    ).one()
    decisions = select(Decision.item_id).join(Item, Item.id == Decision.item_id).where(window)
    newest_decision = session.scalar(
        select(func.max(Decision.id)).join(Item, Item.id == Decision.item_id).where(window)
    )
    decided = set(session.scalars(decisions.where(Decision.at > built_at).distinct()))
    arrived: set[int] = set()
    if built_newest is not None and (newest or 0) > built_newest:
        arrived = set(session.scalars(select(Item.id).where(window, Item.id > built_newest)))
    return WindowState(
        int(items or 0), int(newest or 0), int(newest_decision or 0), decided, arrived
    )


def excluded_rows(session: Session, start: datetime, end: datetime) -> list[tuple]:
    """The window's items whose decision in force is ``exclude``, by id: (id, title, outlet,
    story id, the decision); what `load_rows` flags ``excluded``, without loading the rest."""
    from store.models import Classification, Decision, Item, Source

    window = _in_window(start, end)
    ids = list(
        session.scalars(
            select(Decision.item_id)
            .join(Item, Item.id == Decision.item_id)
            .where(window, Decision.action == "exclude")
            .distinct()
        )
    )
    in_force = latest_decisions(session, ids)
    ids = sorted(i for i in ids if in_force[i].action == "exclude")
    out = []
    for i in range(0, len(ids), CHUNK):
        q = (
            select(Item.id, Item.title, Source.name, Source.title, Classification.story_id)
            .join(Source, Source.id == Item.source_id)
            .outerjoin(Classification, Classification.item_id == Item.id)
            .where(Item.id.in_(ids[i : i + CHUNK]))
            .order_by(Item.id)
        )
        for iid, title, sname, stitle, story_id in session.execute(q):
            out.append((iid, title or "", outlet_name(stitle, sname), story_id, in_force[iid]))
    return out


def refresh_sections(
    session: Session, profile, settings, data: DigestData, changed: set[int]
) -> list[Section]:
    """The sections `collect` would make now, when only the items in `changed` (decided on or
    arrived since `data` was built) differ: their stories are made again from the store, every
    other entry is kept as built (not summarised again)."""
    from store.models import Source

    rows = load_rows(
        session, data.window_start, data.window_end, thresholds=topic_thresholds(settings)
    )
    touched = [g for g in group_rows(rows) if any(r.id in changed for r in g)]
    touched_ids = {r.id for g in touched for r in g}
    kept = [e for e in data.entries if touched_ids.isdisjoint(e.item_ids)]
    groups = [g for t in touched for g in group_rows(included(t))]
    rules = load_rules(getattr(profile, "model_extra", None))
    tz = ZoneInfo(data.timezone)
    keys = {match_key(profile.province.name).removeprefix("tỉnh ").strip()}
    texts = load_texts(session, [pick_representative(g)[0].id for g in groups])
    titles = {n: outlet_name(t, n) for n, t in session.execute(select(Source.name, Source.title))}
    made = [
        make_entry(g, texts=texts, rules=rules, tz=tz, province_keys=keys, outlet_titles=titles)
        for g in groups
    ]
    # The order select_entries makes them in (a story's first included item), which breaks ties.
    return build_sections(sorted(kept + made, key=lambda e: min(e.item_ids)))


# ── writing ──────────────────────────────────────────────────────────────────────────────────


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def find_converter() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_pdf(docx: Path, out: Path) -> str | None:
    """DOCX → PDF with LibreOffice; None when done, else why not."""
    exe = find_converter()
    if not exe:
        return "không có LibreOffice (soffice) trên máy: bỏ qua bản PDF"
    with tempfile.TemporaryDirectory(prefix="diemtin-pdf-") as tmp:
        profile_dir = Path(tmp) / "lo-profile"
        cmd = [
            exe,
            f"-env:UserInstallation={profile_dir.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            tmp,
            str(docx),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PDF_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"chuyển PDF không được: {exc}"
        made = Path(tmp) / (docx.stem + ".pdf")
        if proc.returncode != 0 or not made.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:]
            return f"chuyển PDF không được (mã {proc.returncode}): {' '.join(tail)}"
        _write(out, made.read_bytes())
    return None


def render_files(
    data: DigestData, folder: Path, *, pdf: bool = True
) -> tuple[dict[str, Path], list[str]]:
    """Render every format into ``folder``; return the files and the warnings."""
    folder.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    files: dict[str, Path] = {}
    if data.chart_png is None:
        data.chart_png = render_chart(data.history)
    outputs = {
        "html": render_html(data).encode("utf-8"),
        "txt": render_text(data).encode("utf-8"),
        "docx": render_docx(data, data.chart_png),
        "png": data.chart_png,
        "json": to_json(data).encode("utf-8"),
    }
    for fmt, blob in outputs.items():
        path = folder / FILES[fmt]
        _write(path, blob)
        files[fmt] = path
    target = folder / FILES["pdf"]
    why = convert_pdf(files["docx"], target) if pdf else "bản PDF không được yêu cầu"
    if why is None:
        files["pdf"] = target
    else:
        target.unlink(missing_ok=True)  # never leave a PDF of an older build beside new files
        warnings.append(why)
        log.info("%s", why)
    return dict(sorted(files.items())), warnings


def build_digest(
    factory: sessionmaker[Session],
    profile,
    profile_name: str,
    day: date,
    settings,
    *,
    now: datetime | None = None,
    force: bool = False,
    pdf: bool = True,
) -> DigestResult:
    """Select, render and archive the digest for ``day``, and upsert its Digest row.

    ``pdf=False`` skips the LibreOffice conversion (seconds per digest) even where it is
    installed; ``force`` rebuilds an approved digest (never a sent one).
    """
    from store.models import Digest, utcnow

    now = now or utcnow()
    for attempt in range(3):
        with factory() as session:
            row = session.scalar(
                select(Digest).where(Digest.profile == profile_name, Digest.date == day)
            )
            if row is not None and _frozen(session, row, force):
                data = collect(session, profile, profile_name, day, row.number, settings, now=now)
                data.built_at = row.built_at.astimezone(ZoneInfo(data.timezone))
                files = {k: Path(v) for k, v in (row.files or {}).items()}
                png = files.get("png")
                data.chart_png = png.read_bytes() if png and png.exists() else None
                return DigestResult(
                    digest_id=row.id,
                    number=row.number,
                    day=day,
                    files=files,
                    subject=subject(data),
                    data=data,
                    unlabelled=data.unlabelled,
                    frozen=True,
                    warnings=[f"bản điểm tin đã ở trạng thái '{row.status}': giữ nguyên"],
                )
            number = row.number if row is not None else next_number(session, profile_name, day.year)
            data = collect(session, profile, profile_name, day, number, settings, now=now)
        data.chart_png = render_chart(data.history)
        files, warnings = render_files(data, archive_dir(settings, profile_name, day), pdf=pdf)
        with factory() as session:
            try:
                row = session.scalar(
                    select(Digest).where(Digest.profile == profile_name, Digest.date == day)
                )
                if row is not None and row.number != number:
                    continue  # somebody else numbered this day meanwhile: render again
                if row is None:
                    row = Digest(
                        profile=profile_name,
                        date=day,
                        year=day.year,
                        number=number,
                        status="built",
                    )
                    session.add(row)
                elif _frozen(session, row, force):
                    continue  # frozen meanwhile: the next round returns it as it is
                if row.status == "approved":  # forced: the approval no longer holds
                    row.status, row.approved_by, row.approved_at = "built", None, None
                row.window_start, row.window_end = data.window_start, data.window_end
                row.built_at = now
                row.files = {k: str(v) for k, v in files.items()}
                row.counts = data.counts
                session.commit()
            except IntegrityError:
                session.rollback()
                log.info("số điểm tin %s bị trùng (lần %s), đánh số lại", number, attempt + 1)
                continue
            return DigestResult(
                digest_id=row.id,
                number=number,
                day=day,
                files=files,
                subject=subject(data),
                data=data,
                unlabelled=data.unlabelled,
                warnings=[*data.warnings, *warnings],
            )
    raise RuntimeError(f"không ghi được bản điểm tin ngày {day:%d/%m/%Y} sau 3 lần thử")


__all__ = [
    "DigestResult",
    "archive_dir",
    "build_digest",
    "collect",
    "render_files",
]

"""`diemtin classify explain ITEM`: everything behind one item's labels, in Vietnamese."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Classification, Item, Source, Story
from store.taxonomy import LEVEL_VI, MISLEADING_VI, TONE_VI, TOPIC_VI


def find(session: Session, ref: str) -> Item | None:
    if ref.isdigit():
        return session.get(Item, int(ref))
    return session.scalars(select(Item).where(Item.url == ref)).first()


def explain(session: Session, ref: str, *, tz) -> str | None:
    item = find(session, ref)
    cls = session.get(Classification, item.id) if item else None
    if item is None or cls is None:
        return None
    source = session.get(Source, item.source_id)
    when = item.published_at.astimezone(tz).strftime("%H:%M %d/%m/%Y") if item.published_at else "—"
    out = [f"# {item.title}", f"{source.title} · {when} · {item.url}", ""]
    out.append(f"Liên quan: {'có' if cls.relevant else 'không'} (điểm {cls.relevance:.2f})")
    for p in cls.places or []:
        old = " (tên cũ)" if p.get("is_old") else ""
        out.append(f"  • {p.get('name')}{old} — {p.get('level')}, {p.get('mentions')} lần")
    for r in cls.relevance_reasons or []:
        out.append(f"  – {r}")
    if cls.story_id:
        story = session.get(Story, cls.story_id)
        out.append(
            f"Câu chuyện #{story.id}: {story.title} — {len(story.outlets)} nguồn "
            f"({', '.join(story.outlets)})"
        )
        for name, at in story.spread or []:
            out.append(f"  • {name} lúc {at}")
    if cls.topics:
        top = sorted(cls.topics.items(), key=lambda kv: kv[1], reverse=True)[:5]
        out.append("Chủ đề: " + "; ".join(f"{TOPIC_VI.get(k, k)} {v:.2f}" for k, v in top))
    if cls.tone:
        scores = ", ".join(
            f"{TONE_VI.get(k, k)} {v:.2f}" for k, v in (cls.tone_scores or {}).items()
        )
        out.append(f"Sắc thái: {TONE_VI.get(cls.tone, cls.tone)} ({scores})")
    out.append(f"Mức nhạy cảm: {LEVEL_VI.get(cls.sensitivity or '', cls.sensitivity)}")
    for r in cls.sensitivity_reasons or []:
        out.append(f"  – {r}")
    ev = cls.misleading_evidence or {}
    out.append(
        f"Sai lệch: {MISLEADING_VI.get(cls.misleading, cls.misleading)} "
        f"(điểm {cls.misleading_score:.2f})"
    )
    if ev.get("why"):
        out.append(f"  – {ev['why']}")
    for key, label in (
        ("statement", "Thông tin chính thức khớp"),
        ("possible_statement", "Có thể liên quan"),
    ):
        if ev.get(key):
            s = ev[key]
            out.append(
                f"  – {label}: #{s['item_id']} {s['title']} ({s['source']}, "
                f"độ tương đồng {s.get('similarity', ev.get('similarity', 0)):.2f})"
            )
    for ref_ in ev.get("corroborated_by", []):
        out.append(f"  – Được xác nhận bởi: #{ref_['item_id']} {ref_['title']} ({ref_['source']})")
    if ev.get("model"):
        out.append("  – Điểm mô hình: " + ", ".join(f"{k} {v:.2f}" for k, v in ev["model"].items()))
    if cls.rules_fired:
        out.append("Quy tắc từ khóa:")
        for h in cls.rules_fired:
            out.append(f"  • {h['label']}: “{h['phrase']}”")
    out.append(f"Phiên bản mô hình: {cls.model_version}")
    return "\n".join(out)

"""One classification pass over the store: relevance → vectors → heads → stories → lexicon →
misleading → sensitivity, written back as one Classification row per item.

Only relevant items reach the encoder. Items already classified are left alone unless they
changed, or `reclassify` is asked; but misleading and sensitivity are re-judged for every
relevant item in the window, because a denial crawled today changes yesterday's rumour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from classify.misleading import ClaimDoc, judge
from classify.relevance import relevance
from classify.rules import lexicon_hits
from classify.sensitivity import Facts, rules_from_profile, sensitivity
from classify.text import sentences
from store.models import Classification, Item, ItemVector, Source, Story, utcnow
from store.profile import Profile

RULES_VERSION = "rules-1"
DEFAULT_HEADS = Path(__file__).parent / "models" / "default"
WINDOW = dt.timedelta(days=3)


@dataclass
class ClassifyResult:
    seen: int = 0
    relevant: int = 0
    encoded: int = 0
    stories_new: int = 0
    rejudged: int = 0
    model_version: str = ""
    by_level: dict[str, int] = field(default_factory=dict)


def lead_of(title: str, text: str, n: int = 2) -> str:
    """Title and the first sentences: what the encoder and heads read."""
    first = text.split("\n\n", 1)[0]
    sents = sentences(first)[:n] if first else []
    return f"{title}\n{' '.join(sents) or first[:400]}"


def _to_vec(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


class Classifier:
    """The loaded parts (gazetteer, encoder, heads) for one process; reuse across passes."""

    def __init__(
        self,
        profile: Profile,
        *,
        cache_dir: Path,
        heads_dir: Path | None = None,
        encoder=None,
        heads=None,
        threads: int | None = None,
    ):
        from classify.gazetteer import Gazetteer

        self.profile = profile
        self.gazetteer = Gazetteer.load()
        self.rules = rules_from_profile(profile.model_extra or {})
        self._encoder = encoder
        self._heads = heads
        self.cache_dir = cache_dir
        self.heads_dir = heads_dir or DEFAULT_HEADS
        self.threads = threads

    @property
    def encoder(self):
        if self._encoder is None:
            from classify.encoder import Encoder

            self._encoder = Encoder(cache_dir=self.cache_dir, threads=self.threads)
        return self._encoder

    @property
    def heads(self):
        if self._heads is None:
            from classify.heads import Heads

            self._heads = Heads.load(self.heads_dir)
        return self._heads

    @property
    def version(self) -> str:
        return f"{self.encoder.model_version}+{self.heads.version}+{RULES_VERSION}"

    def run(
        self,
        factory: sessionmaker[Session],
        *,
        since: dt.datetime | None = None,
        reclassify: bool = False,
        now: dt.datetime | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ClassifyResult:
        now = now or utcnow()
        result = ClassifyResult(model_version=self.version)
        with factory() as session:
            todo = self._todo(session, since, reclassify)
            result.seen = len(todo)
            rows = {}
            relevant_items = []
            for i, item in enumerate(todo):
                rel = relevance(
                    item.title,
                    item.text,
                    self.profile.province.code,
                    gazetteer=self.gazetteer,
                    language=item.language,
                )
                row = session.get(Classification, item.id) or Classification(item_id=item.id)
                row.relevant, row.relevance = rel.relevant, rel.score
                info = rel.to_dict()
                row.places, row.relevance_reasons = info["places"], info["reasons"]
                row.model_version, row.classified_at = self.version, now
                rows[item.id] = row
                session.add(row)
                if rel.relevant:
                    relevant_items.append(item)
                if progress:
                    progress("relevance", i + 1, len(todo))
            result.relevant = len(relevant_items)
            self._label(session, relevant_items, rows, progress, result)
            session.commit()
            self._stories(session, relevant_items, now, result)
            session.commit()
            self._judge(session, now, result)
            session.commit()
        return result

    # -- steps ------------------------------------------------------------------------------

    def _todo(self, session: Session, since, reclassify: bool) -> list[Item]:
        stmt = select(Item).outerjoin(Classification, Classification.item_id == Item.id)
        if not reclassify:
            stmt = stmt.where(
                or_(
                    Classification.item_id.is_(None), Item.updated_at > Classification.classified_at
                )
            )
        if since is not None:
            stmt = stmt.where(or_(Item.published_at >= since, Item.fetched_at >= since))
        return list(session.scalars(stmt.order_by(Item.id)))

    def _label(self, session, items: list[Item], rows: dict, progress, result) -> None:
        if not items:
            return
        texts = [lead_of(it.title, it.text) for it in items]
        vectors = self.encoder.embed(texts, kind="passage")
        result.encoded = len(items)
        if progress:
            progress("encoder", len(items), len(items))
        predictions = self.heads.predict(texts, vectors)
        for item, vec, pred in zip(items, vectors, predictions, strict=True):
            session.merge(
                ItemVector(
                    item_id=item.id,
                    model_version=self.encoder.model_version,
                    vector=vec.astype(np.float16).tobytes(),
                )
            )
            row = rows[item.id]
            row.topics = {k: round(float(v), 4) for k, v in pred.topics.items()}
            row.tone, row.tone_scores = pred.tone, _rounded(pred.tone_scores)
            hits = lexicon_hits(item.title, item.text, social=item.kind == "social")
            row.rules_fired = [h.to_dict() for h in hits]
            row.misleading_evidence = {"model": _rounded(pred.misleading_scores)}

    def _stories(self, session: Session, items: list[Item], now, result) -> None:
        from classify.stories import StoryDoc, assign_stories, merge_spread

        if not items:
            return
        lo = min((it.published_at or it.fetched_at) for it in items) - WINDOW
        new_ids = {it.id for it in items}
        recent = session.execute(
            select(Item, Classification.story_id, ItemVector.vector, Source.name)
            .join(Classification, Classification.item_id == Item.id)
            .join(Source, Source.id == Item.source_id)
            .outerjoin(ItemVector, ItemVector.item_id == Item.id)
            .where(
                Classification.relevant.is_(True),
                Classification.story_id.is_not(None),
                or_(Item.published_at >= lo, Item.fetched_at >= lo),
            )
        ).all()
        vec_of = dict(
            session.execute(
                select(ItemVector.item_id, ItemVector.vector).where(ItemVector.item_id.in_(new_ids))
            ).all()
        )
        names = dict(session.execute(select(Source.id, Source.name)).all())

        def doc(it: Item, story_id=None, blob=None) -> StoryDoc:
            return StoryDoc(
                item_id=it.id,
                source=names[it.source_id],
                kind=it.kind,
                title=it.title,
                text=it.text,
                published=it.published_at or it.fetched_at,
                vector=_to_vec(blob) if blob else None,
                story_id=story_id,
            )

        new_docs = [doc(it, None, vec_of.get(it.id)) for it in items]
        old_docs = [doc(it, sid, blob) for it, sid, blob, _ in recent if it.id not in new_ids]
        province = self.profile.province
        common = (province.name, *province.former, *province.aliases)
        for group in assign_stories(new_docs, old_docs, common=common):
            story = session.get(Story, group.story_id) if group.story_id else None
            if story is None:
                story = Story(
                    title=group.title,
                    first_seen=group.first_seen,
                    last_seen=group.last_seen,
                    outlets=[],
                    spread=[],
                )
                session.add(story)
                result.stories_new += 1
            # A story keeps what earlier runs saw of it: spread is merged, never replaced.
            stored = [(src, dt.datetime.fromisoformat(at)) for src, at in story.spread or []]
            for old_id in group.merged_from or []:
                old = session.get(Story, old_id)
                if old is not None:
                    stored += [(src, dt.datetime.fromisoformat(at)) for src, at in old.spread]
            spread = merge_spread(stored, group.spread)
            story.spread = [[src, when.isoformat()] for src, when in spread]
            story.outlets = [src for src, _ in spread]
            story.first_seen = min(story.first_seen, group.first_seen)
            story.last_seen = max(story.last_seen, group.last_seen)
            if story.first_seen == group.first_seen:
                story.title = group.title
            session.flush()
            moved = [*group.item_ids]
            for cls in session.scalars(
                select(Classification).where(
                    or_(
                        Classification.item_id.in_(moved),
                        Classification.story_id.in_(group.merged_from or [-1]),
                    )
                )
            ):
                cls.story_id = story.id
            session.flush()
            story.item_count = session.scalar(
                select(func.count()).where(Classification.story_id == story.id)
            )

    def _judge(self, session: Session, now, result) -> None:
        """Misleading and sensitivity for every relevant item in the window."""
        lo = now - WINDOW * 2
        rows = session.execute(
            select(Item, Classification, ItemVector.vector, Source.name, Story.outlets)
            .join(Classification, Classification.item_id == Item.id)
            .join(Source, Source.id == Item.source_id)
            .outerjoin(ItemVector, ItemVector.item_id == Item.id)
            .outerjoin(Story, Story.id == Classification.story_id)
            .where(
                Classification.relevant.is_(True),
                or_(Item.published_at >= lo, Item.fetched_at >= lo),
            )
        ).all()
        docs = []
        for item, cls, blob, source, _outlets in rows:
            docs.append(
                ClaimDoc(
                    id=item.id,
                    kind=item.kind,
                    title=item.title,
                    text=item.text,
                    published=item.published_at or item.fetched_at,
                    story_id=cls.story_id,
                    vector=_to_vec(blob) if blob else None,
                    lexicon=frozenset(h["rule"] for h in cls.rules_fired or []),
                    model=(cls.misleading_evidence or {}).get("model", {}),
                    source=source,
                )
            )
        province = self.profile.province
        verdicts = judge(docs, common=(province.name, *province.former, *province.aliases))
        thresholds = getattr(self.heads, "thresholds", {}) or {}
        levels: dict[str, int] = {}
        for item, cls, _blob, _source, outlets in rows:
            v = verdicts[item.id]
            model = (cls.misleading_evidence or {}).get("model", {})
            before = (cls.misleading, cls.sensitivity)
            cls.misleading, cls.misleading_score = v.level, v.score
            cls.misleading_evidence = {**v.evidence, "model": model}
            topics = frozenset(
                t for t, p in (cls.topics or {}).items() if p >= thresholds.get(t, 0.5)
            )
            lexicon = frozenset(h["rule"] for h in cls.rules_fired or [])
            topics |= {h["topic"] for h in cls.rules_fired or [] if h.get("topic")}
            facts = Facts(
                topics=frozenset(topics),
                tone=cls.tone,
                kind=item.kind,
                misleading=v.level,
                lexicon=lexicon,
                outlets=len(outlets or []),
            )
            cls.sensitivity, cls.sensitivity_reasons = sensitivity(facts, self.rules)
            if before != (cls.misleading, cls.sensitivity):
                result.rejudged += 1
            levels[cls.sensitivity] = levels.get(cls.sensitivity, 0) + 1
        result.by_level = levels


def _rounded(scores: dict) -> dict:
    return {k: round(float(v), 4) for k, v in (scores or {}).items()}

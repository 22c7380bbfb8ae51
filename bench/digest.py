"""Digest speed: time and peak memory to build and render one day of 10,000 items in 2,000
stories, against the time to merely read those rows from the store, in the same run.

A SQLite store is synthesised first: forty outlets of every channel, real Vietnamese news (the
VNTC sample in ../shared/data, else generated sentences) as titles and texts, stories of skewed
sizes (a few carried by dozens of outlets, most by one to four), every item classified (topics,
tone, sensitivity, misleading, in proportions like a real province's day) and 1% with an
officer's decision. Then a fresh process (so synthesis memory does not count) times:

* read   — one SELECT of the window's items joined with source, classification and story, every
           row fetched and its title and text touched (the floor any digest build pays);
* build  — `digest.build.build_digest` (select, rank, summarise, count, chart, render HTML, text
           and DOCX, archive, record), first run (template compilation…) and warm runs; without
           the PDF, and (when LibreOffice is installed) once with it;
* phases — `collect`, `render_files`, `render_html` and the PDF conversion alone;

* report — `digest.report` over the same rows (build_report, DOCX and XLSX);

and reports peak memory: the Python heap (tracemalloc) of each, and the process's peak RSS.

    python bench/digest.py [--items 10000] [--stories 2000] [--repeat 3] [--cprofile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import html
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from store.taxonomy import TOPICS  # noqa: E402

VNTC = ROOT.parent / "shared" / "data" / "corpus" / "vntc_sample.jsonl"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = dt.date(2026, 11, 20)
PROFILE_NAME = "bench_vinh_long"

OUTLETS = {
    "press_local": [
        ("baovinhlong", "Báo Vĩnh Long", 2.0),
        ("thvl", "Đài Phát thanh và Truyền hình Vĩnh Long", 2.0),
        ("baotravinh", "Báo Trà Vinh (cũ)", 1.5),
        ("baobentre", "Báo Bến Tre (cũ)", 1.5),
        ("congan-vinhlong", "Công an tỉnh Vĩnh Long", 1.2),
        ("vinhlong-gov", "Cổng thông tin điện tử tỉnh Vĩnh Long", 1.5),
        ("mtx-vinhlong", "Mặt trận Tổ quốc tỉnh Vĩnh Long", 1.0),
        ("thanhnien-vinhlong", "Tỉnh đoàn Vĩnh Long", 1.0),
    ],
    "press_central": [
        ("nhandan", "Báo Nhân Dân", 2.0),
        ("vtv", "VTV", 2.0),
        ("vnexpress", "VnExpress", 1.5),
        ("tuoitre", "Báo Tuổi Trẻ", 1.5),
        ("thanhnien", "Báo Thanh Niên", 1.5),
        ("dantri", "Báo Dân trí", 1.2),
        ("vietnamnet", "VietNamNet", 1.2),
        ("laodong", "Báo Lao Động", 1.0),
        ("nld", "Báo Người Lao Động", 1.0),
        ("sggp", "Báo Sài Gòn Giải Phóng", 1.0),
        ("vov", "Đài Tiếng nói Việt Nam", 1.5),
        ("baochinhphu", "Báo Điện tử Chính phủ", 2.0),
        ("tienphong", "Báo Tiền Phong", 1.0),
        ("plo", "Báo Pháp Luật TP.HCM", 1.0),
    ],
    "press_foreign": [
        ("rfa", "RFA Tiếng Việt", 1.5),
        ("bbc-vn", "BBC News Tiếng Việt", 1.5),
        ("voa-vn", "VOA Tiếng Việt", 1.5),
        ("reuters", "Reuters", 1.2),
        ("vnexpress-intl", "VnExpress International", 1.0),
        ("nikkei", "Nikkei Asia", 1.0),
    ],
    "social": [
        ("fb-vinhlong24h", "Nhóm Facebook “Vĩnh Long 24h”", 0.8),
        ("fb-travinh-quetoi", "Nhóm Facebook “Trà Vinh quê tôi”", 0.8),
        ("fb-bentre-online", "Trang Facebook “Bến Tre Online”", 0.8),
        ("tiktok-mientay", "TikTok @tintucmientay", 0.6),
        ("youtube-mekong", "YouTube “Mekong TV”", 0.6),
        ("zalo-vinhlong", "Zalo OA “Vĩnh Long Today”", 0.6),
        ("reddit-vietnam", "r/VietNam", 0.5),
        ("forum-otofun", "Diễn đàn Otofun", 0.5),
        ("mastodon-vn", "Mastodon (mạng xã hội)", 0.5),
        ("telegram-tinmientay", "Telegram “Tin miền Tây”", 0.5),
        ("fb-dongthap-vinhlong", "Nhóm Facebook “Cộng đồng Vĩnh Long”", 0.5),
        ("fb-review-vinhlong", "Nhóm Facebook “Review Vĩnh Long”", 0.5),
    ],
}
# Common topics weigh more, as in a real province's day.
TOPIC_WEIGHTS = [1, 1, 2, 2, 1, 2, 3, 10, 8, 6, 3, 4, 5, 3, 10, 12]
PLACES = ["Vĩnh Long", "Trà Vinh", "Bến Tre", "Long Hồ", "Mang Thít", "Cầu Ngang", "Ba Tri"]
HANDLING = [
    "Theo dõi thêm",
    "Cung cấp thông tin chính thống cho báo chí",
    "Đề nghị cơ quan báo chí cải chính",
    "Giao Sở Nông nghiệp và Môi trường kiểm tra, xác minh, phản hồi báo chí",
    "Chuyển cơ quan chức năng xử lý",
    "Phát huy, chia sẻ thông tin tích cực",
]

_WORDS = (
    "tỉnh Vĩnh Long triển khai kế hoạch phát triển kinh tế xã hội nông thôn mới chuyển đổi số "
    "người dân doanh nghiệp đầu tư hạ tầng giao thông cầu đường bờ sông sạt lở hạn mặn lúa gạo "
    "trái cây xuất khẩu du lịch sinh thái lễ hội văn hóa Khmer chùa trường học bệnh viện an sinh "
    "hỗ trợ hộ nghèo cán bộ lãnh đạo Ủy ban nhân dân chỉ đạo kiểm tra xử lý vi phạm"
).split()


def corpus(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """`n` (title, text) pairs: VNTC articles when present, else generated sentences."""
    out: list[tuple[str, str]] = []
    if VNTC.exists():
        with VNTC.open(encoding="utf-8") as fh:
            for line in fh:
                text = html.unescape(json.loads(line)["text"]).replace("\r\n", "\n").strip()
                words = text.split()
                if len(words) < 60:
                    continue
                k = rng.randint(8, 15)
                title = " ".join(words[:k]).rstrip(".,:;-–")
                body = " ".join(words[k:])
                out.append((title, body))
    if not out:
        for _ in range(n):
            title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 14))).capitalize()
            sents = [
                " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 30))).capitalize() + "."
                for _ in range(rng.randint(8, 25))
            ]
            out.append((title, " ".join(sents)))
    rng.shuffle(out)
    return [out[i % len(out)] for i in range(n)]


def story_sizes(n_items: int, n_stories: int, rng: random.Random, cap: int = 60) -> list[int]:
    """Skewed sizes summing to n_items: Zipf-like (many stories of one or two items, a few
    carried and updated by most outlets), each at least one item and at most `cap`."""
    if not n_stories <= n_items <= n_stories * cap:
        raise ValueError("need stories ≤ items ≤ stories × cap")
    weights = [1 / (i + 1) for i in range(n_stories)]

    def sized(scale: float) -> list[int]:
        return [min(cap, 1 + int(w * scale)) for w in weights]

    lo, hi = 0.0, float(n_items * n_stories)
    for _ in range(100):  # the largest scale whose sizes do not overshoot
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(sized(mid)) <= n_items else (lo, mid)
    sizes = sized(lo)
    i = 0
    while sum(sizes) < n_items:  # the rounding left over, to the biggest stories under the cap
        if sizes[i % n_stories] < cap:
            sizes[i % n_stories] += 1
        i += 1
    rng.shuffle(sizes)
    return sizes


def profile_yaml() -> str:
    lines = [
        "province: {code: vinh_long, name: Vĩnh Long, english: Vinh Long,",
        "           former: [Trà Vinh, Bến Tre]}",
        'agency: "Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long"',
        "timezone: Asia/Ho_Chi_Minh",
        "sources:",
    ]
    for kind, outlets in OUTLETS.items():
        for name, title, weight in outlets:
            lines.append(
                f'  - {{name: {name}, title: "{title}", kind: {kind}, type: feed, '
                f'weight: {weight}, urls: ["https://{name}.example/rss"]}}'
            )
    return "\n".join(lines) + "\n"


def synthesise(db_url: str, profile_path: Path, n_items: int, n_stories: int, seed: int = 7):
    """Fill the store with one digest day (DAY's 07:00 → 07:00 window) of classified items in
    stories. Returns (items, stories) written."""
    from sqlalchemy import insert

    from classify.text import match_key
    from store.db import open_store
    from store.models import Classification, Decision, Item, Story
    from store.profile import load_profile
    from store.queries import sync_sources

    rng = random.Random(seed)
    prof, problems = load_profile(profile_path)
    assert not problems, problems
    factory = open_store(db_url)
    end = dt.datetime.combine(DAY, dt.time(7, 0), tzinfo=TZ)
    start = end - dt.timedelta(days=1)
    docs = corpus(n_stories, rng)
    sizes = story_sizes(n_items, n_stories, rng)
    item_rows, cls_rows, story_rows, dec_rows = [], [], [], []
    with factory() as session:
        sources = sync_sources(session, profile_path.stem, prof.sources)
        session.commit()
        by_kind: dict[str, list] = {}
        for s in sources.values():
            by_kind.setdefault(s.kind, []).append(s)
        item_id = 0
        for sid, (size, (title, text)) in enumerate(zip(sizes, docs, strict=True), 1):
            # The story's channel mix, labels and timeline.
            home = rng.choices(list(OUTLETS), weights=[40, 35, 8, 17])[0]
            k = rng.choices([1, 2, 3], weights=[70, 25, 5])[0]
            topics = set(rng.choices(TOPICS, weights=TOPIC_WEIGHTS, k=k))
            tone = rng.choices(["tich_cuc", "trung_lap", "tieu_cuc"], weights=[30, 55, 15])[0]
            level = rng.choices(["binh_thuong", "can_chu_y", "nhay_cam"], weights=[85, 11, 4])[0]
            mis = rng.choices(["khong", "chua_kiem_chung", "sai_lech"], weights=[95, 4, 1])[0]
            first = start + dt.timedelta(seconds=rng.uniform(0, 20 * 3600))
            probs = {t: round(rng.uniform(0.0, 0.08), 4) for t in TOPICS}
            probs.update({t: round(rng.uniform(0.6, 0.99), 4) for t in topics})
            places = rng.sample(PLACES, k=rng.randint(1, 2))
            outlets, spread, times = [], [], []
            story_title = title
            for j in range(size):
                kind = home if j == 0 or rng.random() < 0.6 else rng.choice(list(OUTLETS))
                src = rng.choice(by_kind[kind])
                when = min(
                    first + dt.timedelta(minutes=rng.expovariate(1 / 90) * j**0.5),
                    end - dt.timedelta(seconds=1),
                )
                item_id += 1
                variant = (
                    title
                    if j == 0 or rng.random() < 0.5
                    else rng.choice(
                        [f"{places[0]}: {title}", f"{title} ({src.title})", f"Tin nhanh: {title}"]
                    )
                )
                body = text if j == 0 else f"({src.title}) - {text}"
                item_rows.append(
                    {
                        "id": item_id,
                        "url": f"https://{src.name}.example/tin/{sid}-{item_id}.html",
                        "source_id": src.id,
                        "kind": src.kind,
                        "language": "vi",
                        "title": variant,
                        "text": body,
                        "summary": None,
                        "author": None,
                        "published_at": when,
                        "fetched_at": when + dt.timedelta(minutes=rng.randint(2, 40)),
                        "content_hash": hashlib.sha256(f"{item_id}{body}".encode()).hexdigest(),
                        "title_key": hashlib.sha1(match_key(variant).encode()).hexdigest()[:16],
                        "extra": {},
                    }
                )
                cls_rows.append(
                    {
                        "item_id": item_id,
                        "relevant": True,
                        "relevance": round(rng.uniform(0.5, 1.0), 3),
                        "places": places,
                        "relevance_reasons": [f"nhắc đến {places[0]}"],
                        "story_id": sid,
                        "topics": probs,
                        "tone": tone,
                        "tone_scores": {tone: 0.8},
                        "sensitivity": level,
                        "sensitivity_reasons": []
                        if level == "binh_thuong"
                        else ["chủ đề nhạy cảm"],
                        "misleading": mis,
                        "misleading_score": 0.9 if mis != "khong" else 0.05,
                        "misleading_evidence": {},
                        "rules_fired": [],
                        "model_version": "bench",
                    }
                )
                if rng.random() < 0.01:
                    dec_rows.append(
                        {
                            "item_id": item_id,
                            "user": "cb.bench",
                            "at": when + dt.timedelta(hours=1),
                            "action": "confirm",
                            "handling": rng.choice(HANDLING),
                            "status": rng.choice(["moi", "dang_xu_ly", "da_xu_ly"]),
                        }
                    )
                if src.name not in outlets:
                    outlets.append(src.name)
                    spread.append([src.name, when.isoformat()])
                times.append(when)
            story_rows.append(
                {
                    "id": sid,
                    "title": story_title,
                    "first_seen": min(times),
                    "last_seen": max(times),
                    "item_count": size,
                    "outlets": outlets,
                    "spread": spread,
                }
            )
        for model, rows in (
            (Story, story_rows),
            (Item, item_rows),
            (Classification, cls_rows),
            (Decision, dec_rows),
        ):
            for i in range(0, len(rows), 2000):
                session.execute(insert(model), rows[i : i + 2000])
        session.commit()
    factory.kw["bind"].dispose()
    return len(item_rows), len(story_rows)


# ─────────────────────────────── measuring ───────────────────────────────


def _window():
    end = dt.datetime.combine(DAY, dt.time(7, 0), tzinfo=TZ)
    return end - dt.timedelta(days=1), end


def read_rows(factory) -> int:
    """The floor: every row a digest of the day needs, as ORM objects (item, source,
    classification, story), fetched, title and text touched."""
    from sqlalchemy import select

    from store.models import Classification, Item, Source, Story

    start, end = _window()
    with factory() as session:
        rows = session.execute(
            select(Item, Source, Classification, Story)
            .join(Source, Source.id == Item.source_id)
            .outerjoin(Classification, Classification.item_id == Item.id)
            .outerjoin(Story, Story.id == Classification.story_id)
            .where(Item.published_at >= start, Item.published_at < end)
        ).all()
        chars = sum(len(it.title) + len(it.text) for it, *_ in rows)
    assert chars > 0
    return len(rows)


def read_tuples(factory) -> int:
    """The same rows as plain tuples (SQLAlchemy Core, only the columns a digest shows)."""
    from sqlalchemy import select

    from store.models import Classification, Item, Source, Story

    start, end = _window()
    with factory() as session:
        rows = session.execute(
            select(
                Item.id,
                Item.url,
                Item.kind,
                Item.title,
                Item.text,
                Item.published_at,
                Source.title,
                Source.weight,
                Classification.story_id,
                Classification.topics,
                Classification.tone,
                Classification.sensitivity,
                Classification.misleading,
                Classification.places,
                Story.title,
                Story.outlets,
            )
            .join(Source, Source.id == Item.source_id)
            .outerjoin(Classification, Classification.item_id == Item.id)
            .outerjoin(Story, Story.id == Classification.story_id)
            .where(Item.published_at >= start, Item.published_at < end)
        ).all()
        chars = sum(len(r[3]) + len(r[4]) for r in rows)
    assert chars > 0
    return len(rows)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, repeat: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def _heap_peak(fn) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


class _NoPdf:
    """Within it, build_digest finds no LibreOffice: the digest without its PDF."""

    def __enter__(self):
        import digest.build as b

        self._b, self._saved = b, b.find_converter
        b.find_converter = lambda: None

    def __exit__(self, *exc):
        self._b.find_converter = self._saved


def measure(db_url: str, profile_path: Path, data_dir: Path, repeat: int, cprofile: bool) -> dict:
    """Runs in a fresh process: read, then build, then its phases alone; times and memory."""
    from store.db import open_store
    from store.profile import load_profile
    from store.settings import Settings

    t0 = time.perf_counter()
    import digest.build as b
    from digest.render import render_html

    import_s = time.perf_counter() - t0
    prof, _ = load_profile(profile_path)
    name = profile_path.stem
    settings = Settings(data_dir=data_dir, database_url=db_url, config_dir=profile_path.parent)
    factory = open_store(db_url)
    now = dt.datetime.combine(DAY, dt.time(7, 5), tzinfo=TZ)
    pdf = b.find_converter() is not None
    out: dict = {"import_s": import_s, "pdf": pdf, "rss_start_mb": _rss_mb()}

    read_rows(factory)  # warm SQLite's page cache for every contender
    out["read_s"], out["rows"] = _timed(lambda: read_rows(factory), repeat)
    out["core_s"], _ = _timed(lambda: read_tuples(factory), repeat)
    out["rss_after_read_mb"] = _rss_mb()

    def build():
        return b.build_digest(factory, prof, name, DAY, settings, now=now)

    def build_no_pdf():
        with _NoPdf():
            return build()

    t0 = time.perf_counter()
    result = build_no_pdf()
    out["first_build_s"] = time.perf_counter() - t0
    out["build_s"], result = _timed(build_no_pdf, repeat)
    out["rss_after_build_mb"] = _rss_mb()
    data = result.data

    # The phases alone.
    def collect():
        with factory() as session:
            return b.collect(session, prof, name, DAY, result.number, settings, now=now)

    out["collect_s"], _ = _timed(collect, repeat)
    folder = data_dir / "phases"

    def render_files():
        data.chart_png = None  # drawn again, as a build does
        with _NoPdf():
            return b.render_files(data, folder)

    out["files_s"], (files, _w) = _timed(render_files, repeat)
    out["html_s"], page = _timed(lambda: render_html(data), repeat)
    if pdf:
        out["pdf_s"], _ = _timed(lambda: b.convert_pdf(files["docx"], folder / "x.pdf"), 1)
        out["full_build_s"], full = _timed(build, 1)
        files = full.files
        out["soffice_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    # The periodic report over the same rows (a month holding this one day).
    from digest.report import build_report, write_docx, write_xlsx

    def periodic():
        with factory() as session:
            rep = build_report(
                session, prof, DAY.replace(day=1), DAY, tz=TZ, profile_name=name, now=now
            )
        write_docx(rep, folder / "bao-cao.docx")
        write_xlsx(rep, folder / "bao-cao.xlsx")
        return rep

    out["report_s"], rep = _timed(periodic, repeat)
    out["report_items"] = rep.total

    out.update(
        entries=sum(len(s.entries) for s in data.sections if not s.brief),
        sections={s.code: len(s.entries) for s in data.sections},
        stories=data.stories,
        html_kb=len(page.encode()) / 1024,
        files={
            k: (Path(v).stat().st_size / 1024 if v and Path(v).exists() else None)
            for k, v in (files or {}).items()
        },
        heap_read_mb=_heap_peak(lambda: read_rows(factory)),
        heap_build_mb=_heap_peak(build_no_pdf),
        heap_html_mb=_heap_peak(lambda: render_html(data)),
    )
    if cprofile:
        import cProfile
        import io
        import pstats

        prof_ = cProfile.Profile()
        prof_.runcall(build_no_pdf)
        buf = io.StringIO()
        pstats.Stats(prof_, stream=buf).sort_stats("cumulative").print_stats(30)
        out["cprofile"] = buf.getvalue()
    factory.kw["bind"].dispose()
    return out


def report(m: dict, synth_s: float, n_items: int, n_stories: int) -> None:
    med = statistics.median
    read, core, build = med(m["read_s"]), med(m["core_s"]), med(m["build_s"])
    print(
        f"Store: {n_items} items in {n_stories} stories (synthesised in {synth_s:.1f} s); "
        f"the window holds {m['rows']} rows."
    )
    print(
        f"Digest: {m['stories']} stories as {m['entries']} entries; sections {m['sections']}; "
        f"HTML {m['html_kb']:.0f} KiB"
    )
    print(
        "Files: "
        + ", ".join(
            f"{k} {v:.0f} KiB" if v is not None else f"{k} —" for k, v in m["files"].items()
        )
    )
    print()
    print(f"{'':40}{'median s':>9}   runs")
    rows = [
        ("read rows, ORM objects (the floor)", m["read_s"]),
        ("read rows, Core tuples", m["core_s"]),
        ("build_digest without PDF, warm", m["build_s"]),
        ("  collect (select, rank, summarise)", m["collect_s"]),
        ("  render_files (chart, HTML, text, DOCX)", m["files_s"]),
        ("  render_html alone", m["html_s"]),
    ]
    if m.get("pdf"):
        rows += [
            ("  PDF by LibreOffice alone", m["pdf_s"]),
            ("build_digest with PDF", m["full_build_s"]),
        ]
    rows.append((f"periodic report ({m['report_items']} items, DOCX+XLSX)", m["report_s"]))
    for label, xs in rows:
        print(f"{label:40}{med(xs):>9.3f}   {_runs(xs)}")
    print(
        f"{'build_digest, first run (no PDF)':40}{m['first_build_s']:>9.3f}   "
        f"(after {m['import_s']:.2f} s of imports)"
    )
    print()
    print(
        f"Ratio build (no PDF) / read (ORM): {build / read:.1f}×; against Core tuples: "
        f"{build / core:.1f}×"
    )
    if m.get("pdf"):
        print(f"Ratio build with PDF / read (ORM): {med(m['full_build_s']) / read:.1f}×")
    print(
        f"Peak Python heap (tracemalloc): read {m['heap_read_mb']:.0f} MiB, build "
        f"{m['heap_build_mb']:.0f} MiB, render_html {m['heap_html_mb']:.0f} MiB"
    )
    line = (
        f"Peak RSS of the process: at start {m['rss_start_mb']:.0f} MiB, after the reads "
        f"{m['rss_after_read_mb']:.0f} MiB, after the builds {m['rss_after_build_mb']:.0f} MiB"
    )
    if m.get("soffice_rss_mb"):
        line += f"; LibreOffice (child) {m['soffice_rss_mb']:.0f} MiB"
    print(line)
    if "cprofile" in m:
        print()
        print(m["cprofile"])


def _runs(xs: list[float]) -> str:
    return " ".join(f"{x:.3f}" for x in xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--stories", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cprofile", action="store_true", help="print the build's top functions")
    ap.add_argument("--dir", type=Path, help="work here (kept) instead of a temporary directory")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="diemtin-bench-digest-"))
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'bench.db'}"
    profile_path = work / f"{PROFILE_NAME}.yaml"
    if args.measure:
        m = measure(db_url, profile_path, work / "data", args.repeat, args.cprofile)
        sys.stdout.write(json.dumps(m) + "\n")
        return
    (work / "bench.db").unlink(missing_ok=True)
    profile_path.write_text(profile_yaml(), encoding="utf-8")
    t0 = time.perf_counter()
    n_items, n_stories = synthesise(db_url, profile_path, args.items, args.stories)
    synth_s = time.perf_counter() - t0
    cmd = [sys.executable, __file__, "--measure", "--dir", str(work), "--repeat", str(args.repeat)]
    if args.cprofile:
        cmd.append("--cprofile")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(done.returncode)
    report(json.loads(done.stdout.strip().splitlines()[-1]), synth_s, n_items, n_stories)
    if not args.dir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

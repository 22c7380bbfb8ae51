"""Review app speed: time and size of the officers' pages over a day of 10,000 items in 2,000
stories, against the time to merely read that day's rows from the store, in the same process.

The store is the one bench/digest.py synthesises (forty outlets, real Vietnamese titles and
texts, skewed story sizes, every item classified, 1% with an officer's decision), written by a
child process so that its memory does not count here. Then this process creates an officer
account and an API token, builds the day's digest (without the PDF), and builds the real app
(`review.app.create_app`, its clock fixed at the digest day's 07:05 so the desk shows that day)
behind FastAPI's TestClient, signed in through the real login form. Each page is fetched once
to warm up, then `--repeat` times; every response must be 200 (a redirect to the login form
counts as a failure):

* read    — `read_rows` of bench/digest.py: every row of the day as ORM objects (the floor);
* queue   — /queue (the default: unreviewed, flagged), with two filters, and page 3 of all items;
* search  — /search for a frequent word of the titles, and /search/export.csv under a filter;
* item    — /items/<a flagged item of a large story>; story — /stories/<the largest story>;
* desk    — /desk (the day's digest as the editor shows it);
* api     — /api/items?limit=100 with a Bearer token.

The time of a page is the whole round trip through TestClient (ASGI in process: no socket, but
routing, middleware, dependencies, the handler and the template). Reported: median and p95 in
ms, response bytes, the ratio of the median to the read's, and the process's peak RSS.
`--cprofile` prints the top 15 functions (cumulative) of the slowest page, profiled in the
worker threads that run the app's sync code.

    python bench/review.py [--items 10000] [--stories 2000] [--repeat 5] [--cprofile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # ahead of bench/: `review` and `digest` are the packages


def _load_synth():
    """bench/digest.py, under another name: `import digest` would shadow the digest package."""
    spec = importlib.util.spec_from_file_location("bench_digest", ROOT / "bench" / "digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synth = _load_synth()

USERNAME = "canbo.bench"
PASSWORD = "mật-khẩu-cán-bộ-bench-2026"
TOKEN_NAME = "bench"
WORD_RE = re.compile(r"\w+")


# ─────────────────────────────── setting up ───────────────────────────────


def _rss_mb() -> float:
    """Current resident set size, MiB (Linux; else the peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_rss_mb()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def accounts(factory) -> str:
    """The officer who signs in, and an API token of theirs (returned)."""
    from store.accounts import add_user, new_token

    with factory() as session:
        user = add_user(session, USERNAME, PASSWORD, role="officer", display_name="Cán bộ bench")
        secret, _ = new_token(session, user, TOKEN_NAME)
        session.commit()
    return secret


def frequent_word(factory) -> str:
    """The word (with diacritics, three letters or more) in the most titles of the day."""
    from sqlalchemy import select

    from store.models import Item

    counts: Counter[str] = Counter()
    with factory() as session:
        for title in session.scalars(select(Item.title)):
            counts.update({w for w in WORD_RE.findall(title.lower()) if len(w) >= 3})
    for word, _ in counts.most_common():
        if not word.isascii() and not word.isdigit():
            return word
    return counts.most_common(1)[0][0]


def targets(factory) -> tuple[int, int, int]:
    """(the largest story, its size, a flagged item in the largest story that has one)."""
    from sqlalchemy import or_, select

    from store.models import Classification, Story

    with factory() as session:
        largest, size = session.execute(
            select(Story.id, Story.item_count).order_by(Story.item_count.desc(), Story.id)
        ).first()
        item = session.scalar(
            select(Classification.item_id)
            .join(Story, Story.id == Classification.story_id)
            .where(
                or_(
                    Classification.sensitivity.in_(("can_chu_y", "nhay_cam")),
                    Classification.misleading.in_(("chua_kiem_chung", "sai_lech")),
                )
            )
            .order_by(Story.item_count.desc(), Classification.item_id)
            .limit(1)
        )
    return largest, size, item


# ─────────────────────────────── measuring ───────────────────────────────


def _p95(xs: list[float]) -> float:
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=20, method="inclusive")[18]


def timed(fn, repeat: int) -> tuple[list[float], object]:
    """One warm-up call, then `repeat` timed ones (seconds); the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def fetch(client, url: str, headers: dict | None = None):
    """GET, and fail loudly unless 200 (no redirect followed: the login form is no page)."""
    response = client.get(url, headers=headers, follow_redirects=False)
    if response.status_code != 200:
        where = response.headers.get("location", "")
        raise SystemExit(f"GET {url} → {response.status_code} {where}\n{response.text[:2000]}")
    return response


def profile_request(client, url: str, headers: dict | None, top: int = 15) -> str:
    """cProfile of one request. The app's sync code (dependencies, the handler, the template)
    runs in worker threads via anyio.to_thread.run_sync: each such call runs under the
    profiler (they run one after another, never at once). The async guard and the ASGI
    plumbing on the event loop are not seen."""
    import cProfile
    import io
    import pstats

    import anyio.to_thread

    prof = cProfile.Profile()
    original = anyio.to_thread.run_sync

    async def run_sync(func, *args, **kwargs):
        return await original(lambda: prof.runcall(func, *args), **kwargs)

    anyio.to_thread.run_sync = run_sync
    try:
        fetch(client, url, headers)
    finally:
        anyio.to_thread.run_sync = original
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def run(args, work: Path) -> None:
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(ROOT / "tests"))
    from reviewkit import sign_in

    t0 = time.perf_counter()
    import digest.build as b
    from review.app import create_app
    from store.db import open_store
    from store.profile import load_profile
    from store.settings import Settings

    import_s = time.perf_counter() - t0
    db_url = f"sqlite:///{work / 'bench.db'}"
    profile_path = work / f"{synth.PROFILE_NAME}.yaml"
    name = profile_path.stem
    settings = Settings(
        data_dir=work / "data",
        database_url=db_url,
        profile=str(profile_path),
        config_dir=work,  # where the app finds the profile by its name
    )
    factory = open_store(db_url)
    token = accounts(factory)
    word = frequent_word(factory)
    story_id, story_size, item_id = targets(factory)
    rss_start = _rss_mb()

    prof, problems = load_profile(profile_path)
    assert not problems, problems
    now = dt.datetime.combine(synth.DAY, dt.time(7, 5), tzinfo=synth.TZ).astimezone(dt.UTC)
    t0 = time.perf_counter()
    built = b.build_digest(factory, prof, name, synth.DAY, settings, now=now, pdf=False)
    digest_s = time.perf_counter() - t0
    entries = sum(len(s.entries) for s in built.data.sections)

    app = create_app(settings, factory=factory, profile_name=name, clock=lambda: now)
    app.state.desk_pdf = False
    client = TestClient(app)
    signed = sign_in(client, USERNAME, PASSWORD)
    if signed.status_code != 303:
        raise SystemExit(f"sign-in failed: {signed.status_code}\n{signed.text[:2000]}")
    bearer = {"Authorization": f"Bearer {token}"}
    rss_setup, peak_setup = _rss_mb(), _peak_rss_mb()

    pages: list[tuple[str, str, dict | None]] = [
        ("/queue", "/queue", None),
        ("/queue nhạy cảm, mạng xã hội", "/queue?sensitivity=nhay_cam&channel=social", None),
        ("/queue tất cả, trang 3", "/queue?reviewed=tat_ca&flagged=0&page=3", None),
        (f"/search q={word}", f"/search?q={word}", None),
        ("/search/export.csv báo địa phương", "/search/export.csv?channel=press_local", None),
        (f"/items/{item_id} (story of {story_size})", f"/items/{item_id}", None),
        (f"/stories/{story_id} ({story_size} items)", f"/stories/{story_id}", None),
        ("/desk", "/desk", None),
        ("/api/items?limit=100 (Bearer)", "/api/items?limit=100", bearer),
    ]

    read_s, rows = timed(lambda: synth.read_rows(factory), args.repeat)
    results = []
    notes = []
    for label, url, headers in pages:
        times, response = timed(lambda u=url, h=headers: fetch(client, u, h), args.repeat)
        results.append((label, url, headers, times, len(response.content)))
        if "export" in url:
            notes.append(
                f"{label}: {response.headers.get('x-export-rows')} rows"
                + (" (cut at the cap)" if response.headers.get("x-export-truncated") == "1" else "")
            )
        if url.startswith("/api/"):
            body = response.json()
            notes.append(f"{label}: {len(body['items'])} of {body.get('total')} items")
    peak_end = _peak_rss_mb()

    read = statistics.median(read_s)
    print(
        f"Store: {args.items} items in {args.stories} stories; the day's window holds {rows} "
        f"rows. Digest built in {digest_s:.2f} s ({entries} entries, no PDF); imports "
        f"{import_s:.2f} s."
    )
    print(
        f"Search word: «{word}»; largest story {story_id} ({story_size} items); flagged item "
        f"{item_id}. {args.repeat} runs after one warm-up each."
    )
    print()
    width = max(len(r[0]) for r in results) + 2
    print(f"{'page':{width}}{'median ms':>10}{'p95 ms':>10}{'bytes':>11}{'× read':>9}")
    print(
        f"{'read_rows (ORM, the floor)':{width}}{read * 1e3:>10.1f}{_p95(read_s) * 1e3:>10.1f}"
        f"{'—':>11}{1:>9.1f}"
    )
    for label, _url, _h, times, size in results:
        med = statistics.median(times)
        print(
            f"{label:{width}}{med * 1e3:>10.1f}{_p95(times) * 1e3:>10.1f}{size:>11,}"
            f"{med / read:>9.1f}"
        )
    print()
    for note in notes:
        print(note)
    print(
        f"RSS: {rss_start:.0f} MiB before the digest build, {rss_setup:.0f} MiB with the app "
        f"signed in (peak so far {peak_setup:.0f} MiB), {_rss_mb():.0f} MiB at the end; "
        f"peak RSS of the process {peak_end:.0f} MiB."
    )
    if args.cprofile:
        label, url, headers, times, _ = max(results, key=lambda r: statistics.median(r[3]))
        print()
        print(f"cProfile of the slowest page, {label} ({statistics.median(times) * 1e3:.0f} ms):")
        print(profile_request(client, url, headers))
    client.close()
    factory.kw["bind"].dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--stories", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cprofile", action="store_true", help="profile the slowest page")
    ap.add_argument("--dir", type=Path, help="work here (kept) instead of a temporary directory")
    ap.add_argument("--synthesise", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    work = args.dir or Path(tempfile.mkdtemp(prefix="diemtin-bench-review-"))
    work.mkdir(parents=True, exist_ok=True)
    profile_path = work / f"{synth.PROFILE_NAME}.yaml"
    if args.synthesise:  # the child: write the store, then exit (its memory goes with it)
        (work / "bench.db").unlink(missing_ok=True)
        profile_path.write_text(synth.profile_yaml(), encoding="utf-8")
        synth.synthesise(f"sqlite:///{work / 'bench.db'}", profile_path, args.items, args.stories)
        return
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--synthesise", "--dir", str(work)]
    cmd += ["--items", str(args.items), "--stories", str(args.stories)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(done.returncode)
    print(f"(store synthesised in {time.perf_counter() - t0:.1f} s, in a child process)")
    try:
        run(args, work)
    finally:
        if not args.dir:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

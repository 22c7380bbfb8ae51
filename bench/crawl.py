"""Crawl speed on an enlarged demo network: items per second and CPU seconds per page, split
into fetching (Scrapy, HTTP, scheduling), extraction and store.

Ten outlets, each on its own loopback host (127.0.0.11 … 127.0.0.20, so per-host politeness
applies as in real life, with delays off), 500 articles each, served from a separate process so
its CPU is not counted. Article text is real Vietnamese news (VNTC sample in ../shared/data) when
present, else the demo network's own articles repeated. The baseline, measured in the same
process, is plain `trafilatura.extract` on the same pages.

    python bench/crawl.py [--per-outlet 500] [--outlets 10]
"""

from __future__ import annotations

import argparse
import html
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VNTC = ROOT.parent / "shared" / "data" / "corpus" / "vntc_sample.jsonl"
PORT = 8790

TEMPLATES = [
    # Distinct markup per outlet, as real sites differ.
    '<article class="detail"><h1 class="title">{title}</h1><span class="date">{date}</span>'
    '<div class="sapo">{lead}</div><div class="content">{body}</div><p class="author">{author}'
    "</p></article>",
    '<div id="main"><h1>{title}</h1><time datetime="{iso}">{date}</time><p><strong>{lead}'
    '</strong></p>{body}<div class="byline">{author}</div></div>',
]


def texts(n: int) -> list[tuple[str, str]]:
    """(title, text) pairs of real Vietnamese news, or of demo articles when shared/ is absent."""
    out = []
    if VNTC.exists():
        with VNTC.open(encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["text"].replace("\r\n", "\n").strip()
                paras = [p.strip() for p in text.split("\n") if p.strip()]
                if len(paras) >= 3:
                    out.append((paras[0][:150], "\n".join(paras[1:])))
    else:
        from crawlers.demo import expected

        out = [(it.title, it.text) for it in expected.items() if it.kind != "social"]
    return [out[i % len(out)] for i in range(n)]


def page(i: int, j: int, title: str, text: str, when) -> str:
    paras = [p for p in text.split("\n") if p]
    lead, body = paras[0], "".join(f"<p>{html.escape(p)}</p>" for p in paras[1:])
    tpl = TEMPLATES[i % len(TEMPLATES)]
    inner = tpl.format(
        title=html.escape(f"{title} ({j})"),
        lead=html.escape(lead),
        body=body,
        author="Phóng viên " + str(i),
        iso=when.isoformat(),
        date=when.strftime("%d/%m/%Y %H:%M"),
    )
    return (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>'
        f'{html.escape(title)} - Báo {i}</title><meta property="article:published_time" '
        f'content="{when.isoformat()}"></head><body><nav>Trang chủ | Thời sự</nav>{inner}'
        f"<footer>Báo điện tử số {i}</footer></body></html>"
    )


def serve(outlets: int, per: int, ready) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).replace(microsecond=0)
    pool = texts(outlets * per)
    pages, feeds = {}, {}
    for i in range(outlets):
        host = f"127.0.0.{11 + i}:{PORT}"
        entries = []
        for j in range(per):
            when = now - dt.timedelta(minutes=5 * j + i)
            title, text = pool[i * per + j]
            pages[(i, f"/bai/{j}.html")] = page(i, j, title, text, when).encode()
            entries.append(
                f"<item><title>{html.escape(title)}</title><link>http://{host}/bai/"
                f"{j}.html</link><pubDate>{format_datetime(when)}</pubDate></item>"
            )
        feeds[i] = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Báo {i}</title>{''.join(entries)}</channel></rss>"
        ).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            i = int(self.server.server_address[0].rsplit(".", 1)[1]) - 11
            if self.path == "/rss.xml":
                body, ctype = feeds[i], "application/rss+xml"
            elif self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                body, ctype = pages.get((i, self.path)), "text/html; charset=utf-8"
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    import threading

    servers = [ThreadingHTTPServer((f"127.0.0.{11 + i}", PORT), Handler) for i in range(outlets)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ready.set()
    threading.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outlets", type=int, default=10)
    ap.add_argument("--per-outlet", type=int, default=500)
    args = ap.parse_args()

    ready = mp.Event()
    server = mp.Process(target=serve, args=(args.outlets, args.per_outlet, ready), daemon=True)
    server.start()
    ready.wait(120)

    from crawlers.run import crawl
    from store.profile import parse_profile
    from store.settings import CrawlSettings, Settings

    tmp = Path(tempfile.mkdtemp(prefix="diemtin-bench-"))
    sources = "".join(
        f"""  - name: bao{i}
    title: Báo số {i}
    kind: press_local
    type: feed
    urls: [http://127.0.0.{11 + i}:{PORT}/rss.xml]
    delay: 0
"""
        for i in range(args.outlets)
    )
    profile, problems = parse_profile(
        f"province: {{code: vinh_long, name: Vĩnh Long}}\nagency: Bench\nsources:\n{sources}"
    )
    assert not problems, problems
    settings = Settings(
        data_dir=tmp,
        crawl=CrawlSettings(
            download_delay=0,
            autothrottle=False,
            concurrency_total=32,
            max_items_per_source=args.per_outlet + 10,
            retries=0,
        ),
    )
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    result = crawl(settings, profile, "bench")
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    items = result.new
    pages = sum(s.stats.pages for s in result.sources)
    extract, store = result.cpu.get("extract", 0.0), result.cpu.get("store", 0.0)
    fetch = cpu - extract - store

    # Baseline in the same process: plain trafilatura on the same article pages.
    import urllib.request

    import trafilatura

    sample = [
        urllib.request.urlopen(
            f"http://127.0.0.{11 + i % args.outlets}:{PORT}/bai/{i % args.per_outlet}.html"
        )
        .read()
        .decode()
        for i in range(200)
    ]
    b0 = time.process_time()
    for doc in sample:
        trafilatura.extract(doc)
    base = (time.process_time() - b0) / len(sample)
    server.terminate()

    print(
        f"outlets: {args.outlets}, articles: {args.outlets * args.per_outlet}, "
        f"pages fetched: {pages}, items stored: {items}, errors: "
        f"{sum(len(s.stats.errors) for s in result.sources)}"
    )
    print(f"wall: {wall:.1f} s  →  {items / wall:.1f} items/s")
    print(
        f"CPU: {cpu:.1f} s  →  {cpu / pages * 1000:.1f} ms/page "
        f"(fetch {fetch / pages * 1000:.1f}, extraction {extract / pages * 1000:.1f}, "
        f"store {store / pages * 1000:.1f})"
    )
    print(
        f"baseline, plain trafilatura.extract: {base * 1000:.1f} ms/page; "
        f"our extraction / baseline = {extract / pages / base:.2f}; "
        f"whole pipeline / baseline = {cpu / pages / base:.2f}"
    )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    os.environ.pop("DIEMTIN_DEMO_URL", None)


if __name__ == "__main__":
    main()

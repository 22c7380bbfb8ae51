"""The demo news network: one local HTTP server with every outlet under its own path prefix.

    with DemoNetwork(hide=["bac-bo-tin-don"]) as net:    # port 0: any free port
        os.environ["DIEMTIN_DEMO_URL"] = net.base_url     # config/demo.yaml reads it
        ...                                               # crawl: the denial is not there yet
        net.show("bac-bo-tin-don")                        # now it is
        net.edit("baovinhlong/xam-nhap-man", new_text="…")  # new text, newer dateModified
        assert net.fetches("/baovinhlong/rss/tin-moi.rss") == 2

or from a shell: `python -m crawlers.demo --port 8765` (serves until Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .model import OUTLETS, Edit, World, build, normalize_now
from .render import Site

_CHUNK = 64 * 1024


class Hits(Counter):
    """Requests served, by request target (path and query as asked). Safe across threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, target: str) -> None:
        with self._lock:
            self[target] += 1

    def snapshot(self) -> Counter:
        with self._lock:
            return Counter(self)

    def reset(self) -> None:
        with self._lock:
            self.clear()

    def __reduce__(self):  # a plain Counter when pickled or deep-copied
        return (Counter, (dict(self),))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DiemTinDemo/1.0"
    timeout = 30  # idle keep-alive connections are dropped after this
    server: _Server

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        net = self.server.network
        net.hits.add(self.path)
        parts = urlsplit(self.path)
        page = net.site.get(parts.path or "/", parse_qs(parts.query, keep_blank_values=True))
        if page.delay and net._stopping.wait(page.delay):
            self.close_connection = True
            return
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in page.headers:
            self.send_header(name, value)
        self.end_headers()
        if head:
            return
        body = memoryview(page.body)
        for start in range(0, len(body), _CHUNK):
            if net._stopping.is_set():
                self.close_connection = True
                return
            self.wfile.write(body[start : start + _CHUNK])

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # a client that hangs up
            super().handle()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    network: DemoNetwork

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up is not news


class DemoNetwork:
    """The demo news network on one host:port. Pages are rendered at `start()` and whenever
    `show`, `hide` or `edit` change something; requests are answered from memory."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        now: datetime | None = None,
        hide: Iterable[str] = (),
    ):
        self.host = host
        self.port = port
        self._now = now
        self.now: datetime | None = None  # fixed at start()
        self.hidden: set[str] = set(hide)
        self.edits: dict[str, Edit] = {}
        self.hits = Hits()
        self.world: World | None = None
        self.site: Site
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    # lifecycle

    def start(self) -> DemoNetwork:
        if self._server:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler, bind_and_activate=True)
        server.network = self
        self.port = server.server_address[1]
        self.now = normalize_now(self._now)
        self._started_at = time.monotonic()
        self._rebuild()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"demo-network:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if not server:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> DemoNetwork:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if not self._server and not self.port:
            raise RuntimeError("DemoNetwork chưa chạy: gọi start() trước")
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def env(self) -> dict[str, str]:
        """Environment for config/demo.yaml: {'DIEMTIN_DEMO_URL': base_url}."""
        return {"DIEMTIN_DEMO_URL": self.base_url}

    # changes

    def clock(self) -> datetime:
        """`now` plus the time since start: when an edit happens on the network's clock."""
        if self.now is None:
            return normalize_now(self._now)
        return self.now + timedelta(seconds=time.monotonic() - self._started_at)

    def show(self, item_or_story: str) -> None:
        """Make a hidden story (all its items) or item appear."""
        with self._lock:
            self.hidden.discard(item_or_story)
            self._rebuild()

    def hide(self, item_or_story: str) -> None:
        with self._lock:
            self.hidden.add(item_or_story)
            self._rebuild()

    def edit(
        self,
        item_id: str,
        new_text: str | None = None,
        new_title: str | None = None,
        at: datetime | None = None,
    ) -> datetime:
        """Change an item's text (blank-line separated paragraphs; for articles the first one is
        the sapo) and/or title, and bump its updated time. `item_id` may be a story id (every
        copy changes). Returns the new updated time."""
        if new_text is None and new_title is None:
            raise ValueError("edit cần new_text hoặc new_title")
        with self._lock:
            world = self.world or build(self._now)
            if not any(item_id in (it.id, it.story) for it in world.items):
                raise KeyError(item_id)
            when = normalize_now(at) if at else self.clock().replace(microsecond=0)
            old = self.edits.get(item_id)
            self.edits[item_id] = Edit(
                new_text if new_text is not None else (old.text if old else None),
                new_title if new_title is not None else (old.title if old else None),
                when,
            )
            self._rebuild()
            if self.world is None or "/" not in item_id:
                return when
            return self.world.item(item_id).updated

    def fetches(self, path: str) -> int:
        """How many requests asked for `path` (any query string)."""
        path = urlsplit(path).path
        return sum(
            n for target, n in self.hits.snapshot().items() if target.split("?", 1)[0] == path
        )

    def _rebuild(self) -> None:
        if self.now is None:  # not started yet: start() renders
            return
        with self._lock:
            world = build(self.now, self.edits)
            site = Site(world, self.base_url, self.hidden)
            self.world, self.site = world, site

    def visible_items(self):
        """Items the network serves now (hidden ones left out)."""
        return list(self.site.items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawlers.demo",
        description="Mạng tin mẫu của Điểm tin: một máy chủ HTTP cục bộ với các báo, diễn đàn, "
        "mạng xã hội hư cấu (dùng cùng config/demo.yaml).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--now", help="mốc thời gian ISO 8601 (mặc định: bây giờ, giờ Việt Nam)")
    parser.add_argument(
        "--hide",
        action="append",
        default=[],
        metavar="ID",
        help="ẩn một tin (mã trong ngân hàng tin), ví dụ bac-bo-tin-don",
    )
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else None
    net = DemoNetwork(args.host, args.port, now=now, hide=args.hide).start()
    print(f"Mạng tin mẫu đang chạy ở {net.base_url}/  ({len(net.site.items)} tin, bài)")
    for o in OUTLETS.values():
        print(f"  {o.name:18} {o.kind:14} {net.base_url}{o.feed}")
    if net.port != 8765:
        print(f"Dùng với hồ sơ mẫu: export DIEMTIN_DEMO_URL={net.base_url}")
    print("Ctrl-C để dừng.")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        net.stop()
    return 0

"""HTTP manners of the crawler against a real server on 127.0.0.1: conditional GET where the
profile trusts the feed's validators, Retry-After on 429, and a malformed profile line that is
reported while the rest of the run goes on. Each crawl is a real `diemtin crawl` process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ARTICLE = """<html lang="vi"><head><title>{title} - Báo Đồng Khởi</title>
<meta property="article:published_time" content="2026-11-20T0{n}:15:00+07:00"></head>
<body><h1>{title}</h1><article>
<p>Chiều 19/11, Sở Nông nghiệp và Môi trường tỉnh Vĩnh Long cho biết độ mặn trên sông Hàm Luông
đoạn qua xã Mỏ Cày (tỉnh Bến Tre cũ) đã lên 4 phần nghìn, sớm hơn cùng kỳ hai tuần.</p>
<p>Ngành chức năng khuyến cáo người dân trữ nước ngọt, không lấy nước vào ruộng khi độ mặn vượt
ngưỡng cho phép.</p></article></body></html>"""

TITLES = {1: "Mặn xâm nhập sớm trên sông Hàm Luông", 2: "Nông dân Mỏ Cày trữ nước ngọt"}


def feed(base: str) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>{base}/bai/{n}.html</link>"
        f"<pubDate>Fri, 20 Nov 2026 0{n}:15:00 +0700</pubDate></item>"
        for n, t in TITLES.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Báo Đồng Khởi</title><link>{base}/</link>{items}</channel></rss>"
    )


class Server:
    """A tiny outlet: /rss.xml with ETag and Last-Modified, /bai/N.html, and /ban/ which
    answers 429 with Retry-After once before serving."""

    def __init__(self):
        self.hits: Counter[str] = Counter()
        self.conditional: list[tuple[str | None, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, code, body=b"", ctype="text/html; charset=utf-8", headers=()):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path
                outer.hits[path] += 1
                if path == "/robots.txt":
                    return self.send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                if path in ("/rss.xml", "/ban/rss.xml"):
                    if path.startswith("/ban/") and outer.hits[path] == 1:
                        return self.send(429, b"cham lai", headers=[("Retry-After", "1")])
                    inm = self.headers.get("If-None-Match")
                    ims = self.headers.get("If-Modified-Since")
                    outer.conditional.append((inm, ims))
                    if inm == '"v1"':
                        return self.send(304)
                    return self.send(
                        200,
                        feed(outer.base).encode(),
                        "application/rss+xml; charset=utf-8",
                        [("ETag", '"v1"'), ("Last-Modified", "Fri, 20 Nov 2026 02:00:00 GMT")],
                    )
                if path.startswith("/bai/"):
                    n = int(path.split("/")[-1].split(".")[0])
                    return self.send(200, ARTICLE.format(title=TITLES[n], n=n).encode())
                self.send(404, b"khong co")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def profile(tmp_path, base: str, extra: str = "", conditional: bool = True):
    path = tmp_path / "dongkhoi.yaml"
    path.write_text(
        f"""province: {{code: vinh_long, name: Vĩnh Long, former: [Bến Tre]}}
agency: Sở Văn hóa, Thể thao và Du lịch tỉnh Vĩnh Long
sources:
  - name: dongkhoi
    title: Báo Đồng Khởi
    kind: press_local
    type: feed
    urls: ["{base}/rss.xml"]
    conditional: {str(conditional).lower()}
    delay: 0
{extra}""",
        encoding="utf-8",
    )
    return path


def crawl(tmp_path, profile_path, *args):
    env = {
        **os.environ,
        "DIEMTIN_DATA_DIR": str(tmp_path / "var"),
        "DIEMTIN_CRAWL_RETRY_BACKOFF": "0.1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "diemtin", "crawl", "-p", str(profile_path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(tmp_path, sql):
    with sqlite3.connect(tmp_path / "var" / "diemtin.db") as db:
        return db.execute(sql).fetchall()


def test_conditional_get_when_the_profile_trusts_validators(tmp_path, server):
    path = profile(tmp_path, server.base)
    first = crawl(tmp_path, path)
    assert first.returncode == 0, first.stderr
    assert rows(tmp_path, "select count(*) from items") == [(2,)]
    second = crawl(tmp_path, path)
    assert second.returncode == 0, second.stderr
    assert server.conditional == [(None, None), ('"v1"', "Fri, 20 Nov 2026 02:00:00 GMT")]
    assert rows(tmp_path, "select status from fetch_log order by id") == [
        ("ok",),
        ("not_modified",),
    ]
    assert server.hits["/bai/1.html"] == 1


def test_validators_ignored_by_default(tmp_path, server):
    path = profile(tmp_path, server.base, conditional=False)
    crawl(tmp_path, path)
    crawl(tmp_path, path)
    assert server.conditional == [(None, None), (None, None)]
    # Nothing fetched twice all the same: stored articles are skipped.
    assert server.hits["/bai/1.html"] == 1 and server.hits["/bai/2.html"] == 1


def test_retry_after_on_429_then_success(tmp_path, server):
    extra = f"""  - name: ban
    title: Trang hạn chế tần suất
    kind: press_local
    type: feed
    urls: ["{server.base}/ban/rss.xml"]
    delay: 0
"""
    path = profile(tmp_path, server.base, extra)
    result = crawl(tmp_path, path, "--source", "ban")
    assert result.returncode == 0, result.stderr
    assert server.hits["/ban/rss.xml"] == 2
    assert rows(tmp_path, "select status, errors from fetch_log") == [("ok", "[]")]


def test_malformed_source_is_reported_and_the_rest_runs(tmp_path, server):
    extra = """  - name: hong
    title: Nguồn khai báo sai
    kind: bao_dia_phuong
    type: feed
    urls: [https://example.invalid/rss]
"""
    path = profile(tmp_path, server.base, extra)
    result = crawl(tmp_path, path)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert f"{path}:13" in out and "nguồn hong" in out and "kind" in out
    assert rows(tmp_path, "select count(*) from items") == [(2,)]


def test_dry_run_stores_nothing(tmp_path, server):
    path = profile(tmp_path, server.base)
    result = crawl(tmp_path, path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "2 bài sẽ được ghi" in result.stdout
    assert rows(tmp_path, "select count(*) from items") == [(0,)]


def test_items_search_json(tmp_path, server):
    crawl(tmp_path, profile(tmp_path, server.base))
    env = {**os.environ, "DIEMTIN_DATA_DIR": str(tmp_path / "var")}
    out = subprocess.run(
        [sys.executable, "-m", "diemtin", "items", "search", "ham luong", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    hits = json.loads(out)
    # Both bodies name the river; the one with it in the title ranks first.
    assert [h["title"] for h in hits] == [TITLES[1], TITLES[2]]
    assert hits[0]["published_at"] == "2026-11-20T01:15:00+07:00"

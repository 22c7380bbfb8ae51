"""The command line itself: Vietnamese help, `sources list`, `sources check --write` against a
real server on 127.0.0.1, and `import`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from diemtin.cli import app
from store.profile import load_profile

runner = CliRunner()

FEED = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<title>Báo Bạc Liêu</title>
<item><title>Bạc Liêu đón 1,2 triệu lượt khách dịp lễ hội</title><link>http://x/1</link></item>
</channel></rss>"""


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body, code = (FEED.encode(), 200) if self.path == "/rss" else (b"<h1>404</h1>", 404)
            self.send_response(code)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def write_profile(tmp_path, base):
    path = tmp_path / "ca_mau.yaml"
    path.write_text(
        f"""# Hồ sơ thử
province: {{code: ca_mau, name: Cà Mau, former: [Bạc Liêu]}}
agency: Sở Văn hóa, Thể thao và Du lịch tỉnh Cà Mau
sources:
  - name: baobaclieu
    title: Báo Bạc Liêu
    kind: press_local
    type: feed
    urls: ["{base}/rss"]
    verified: false   # chưa kiểm tra
  - name: baocamau
    title: Báo Cà Mau
    kind: press_local
    type: feed
    urls: ["{base}/khong-co.rss"]
    verified: false
""",
        encoding="utf-8",
    )
    return path


def test_help_is_vietnamese():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Điểm tin" in result.output and "crawl" in result.output
    sub = runner.invoke(app, ["crawl", "--help"])
    assert "--since" in sub.output and "Thu thập tin bài" in sub.output


def test_sources_check_marks_only_reachable_sources(tmp_path, server):
    path = write_profile(tmp_path, server)
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "sources", "check", "-p", str(path), "--write"]
    )
    assert result.exit_code == 1  # one source failed
    assert "HTTP 404" in result.output and "nguồn tin: 1 mục" in result.output
    profile, problems = load_profile(path)
    assert not problems
    assert profile.source("baobaclieu").verified is True
    assert profile.source("baocamau").verified is False
    text = path.read_text(encoding="utf-8")
    assert "# Hồ sơ thử" in text and "verified: true   # chưa kiểm tra" in text


def test_sources_list_shows_verification(tmp_path, server):
    path = write_profile(tmp_path, server)
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "sources", "list", "-p", str(path)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0
    assert "baobaclieu" in result.output and "chưa" in result.output


def test_unknown_source_is_a_clear_error(tmp_path, server):
    path = write_profile(tmp_path, server)
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "crawl", "-p", str(path), "-s", "khongco"]
    )
    assert result.exit_code != 0
    assert "khongco" in result.output


def test_broken_profile_is_a_clear_error(tmp_path):
    path = tmp_path / "hong.yaml"
    path.write_text("province: [\n", encoding="utf-8")
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "sources", "list", "-p", str(path)])
    assert result.exit_code == 2
    assert "hong.yaml" in result.output

"""`diemtin serve` runs the review app beside the cycles: the thread it starts answers HTTP."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

from diemtin.jobs import start_web_app
from store.settings import Settings


def test_the_web_app_thread_answers(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    thread = start_web_app(Settings(data_dir=tmp_path), "127.0.0.1", port)
    assert thread.daemon
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1) as r:
                body = r.read().decode("utf-8")
                break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    else:
        raise AssertionError("the review app did not answer")
    assert "Đăng nhập" in body and 'name="csrf_token"' in body
    # Anything else needs a signed-in user.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/queue")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(req, timeout=2)
        raise AssertionError("an anonymous visitor reached the queue")
    except urllib.error.HTTPError as exc:
        assert exc.code == 303 and exc.headers["location"].startswith("/login")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

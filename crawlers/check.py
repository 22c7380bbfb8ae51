"""`diemtin sources check`: can each address be reached, and does it hold what the profile says?"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

import feedparser

from store.profile import SourceConfig

READ_LIMIT = 2 * 1024 * 1024


@dataclass
class CheckResult:
    source: str
    url: str
    ok: bool
    status: int | None
    detail: str


def looks_right(src: SourceConfig, body: bytes, content_type: str) -> tuple[bool, str]:
    head = body[:4096].lower()
    if src.type == "feed":
        feed = feedparser.parse(body)
        if feed.entries:
            return True, f"nguồn tin: {len(feed.entries)} mục"
        return False, "không đọc được nguồn tin RSS/Atom"
    if src.type == "sitemap":
        ok = b"<urlset" in head or b"<sitemapindex" in head
        return ok, "sitemap" if ok else "không phải sitemap"
    if src.type in ("reddit", "mastodon"):
        ok = "json" in content_type or body.lstrip()[:1] in (b"{", b"[")
        return ok, "JSON" if ok else "không phải JSON"
    ok = b"<html" in head or b"<!doctype" in head
    return ok, "trang HTML" if ok else "không phải trang HTML"


def check_source(src: SourceConfig, user_agent: str, timeout: float = 20) -> list[CheckResult]:
    results = []
    for url in src.urls:
        req = urllib.request.Request(url, headers={"User-Agent": user_agent})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (profile URLs)
                body = resp.read(READ_LIMIT)
                ok, detail = looks_right(src, body, resp.headers.get("Content-Type", ""))
                results.append(CheckResult(src.name, url, ok, resp.status, detail))
        except urllib.error.HTTPError as exc:
            results.append(CheckResult(src.name, url, False, exc.code, f"HTTP {exc.code}"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            results.append(CheckResult(src.name, url, False, None, f"không kết nối được: {reason}"))
    return results

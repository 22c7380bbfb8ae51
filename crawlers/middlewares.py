"""Downloader middlewares: retries that back off and honour Retry-After (429/503)."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.response import response_status_message


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, with exponential backoff and the server's Retry-After respected.

    A Retry-After longer than DIEMTIN_MAX_RETRY_AFTER gives up at once (recorded as an error)
    rather than holding the crawl.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("DIEMTIN_RETRY_BACKOFF", 1.0)
        self.max_retry_after = settings.getfloat("DIEMTIN_MAX_RETRY_AFTER", 120.0)

    def _delay(self, retry: Request) -> float:
        return self.backoff * 2 ** (retry.meta.get("retry_times", 1) - 1)

    def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        wait = None
        if response.status in (429, 503):
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is not None and wait > self.max_retry_after:
                return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        retry.meta["not_before"] = time.monotonic() + (
            wait if wait is not None else self._delay(retry)
        )
        return retry

    def process_exception(self, request, exception, spider=None):
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            retry.meta["not_before"] = time.monotonic() + self._delay(retry)
        return retry


class NotBeforeMiddleware:
    """Holds a retried request until its backoff has passed, without blocking the others."""

    async def process_request(self, request, spider=None):
        wait = request.meta.get("not_before", 0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return None

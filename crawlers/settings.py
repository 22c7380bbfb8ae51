"""Scrapy settings built from our CrawlSettings: politeness first.

`scrapy.cfg` points here so `scrapy` tooling finds the project; the CLI builds the same dict
with `scrapy_settings()` and passes it in.
"""

from __future__ import annotations

from store.settings import CrawlSettings

BOT_NAME = "diemtin"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"


def scrapy_settings(cfg: CrawlSettings, *, host_delays: dict[str, float] | None = None) -> dict:
    """Scrapy's settings for one crawl. `host_delays` sets a per-host minimum delay."""
    slots = {
        host: {"concurrency": cfg.concurrency_per_domain, "delay": delay}
        for host, delay in (host_delays or {}).items()
    }
    return {
        "BOT_NAME": BOT_NAME,
        "SPIDER_MODULES": SPIDER_MODULES,
        "USER_AGENT": cfg.user_agent,
        "ROBOTSTXT_OBEY": cfg.obey_robots,
        "CONCURRENT_REQUESTS": cfg.concurrency_total,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cfg.concurrency_per_domain,
        "DOWNLOAD_DELAY": cfg.download_delay,
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "DOWNLOAD_SLOTS": slots,
        "AUTOTHROTTLE_ENABLED": cfg.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(cfg.download_delay, 0.5),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(cfg.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": cfg.timeout,
        "DOWNLOAD_MAXSIZE": cfg.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": cfg.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "DIEMTIN_RETRY_BACKOFF": cfg.retry_backoff,
        "DIEMTIN_MAX_RETRY_AFTER": cfg.max_retry_after,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "LOG_ENABLED": True,
        "LOG_INSTALL_ROOT_HANDLER": False,
        "HTTPCACHE_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawlers.middlewares.BackoffRetryMiddleware": 550,
            "crawlers.middlewares.NotBeforeMiddleware": 50,
        },
        "ITEM_PIPELINES": {
            "crawlers.pipelines.ValidatePipeline": 100,
            "crawlers.pipelines.NormalisePipeline": 200,
            "crawlers.pipelines.DuplicatePipeline": 300,
            "crawlers.pipelines.StorePipeline": 400,
        },
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }

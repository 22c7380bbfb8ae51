"""The one spider a crawl runs: every source of the profile, whatever its kind, in one
downloader, so per-host concurrency and delays hold across sources of one outlet."""

from crawlers.spiders.base import BaseSourceSpider
from crawlers.spiders.feeds import FeedMixin
from crawlers.spiders.listings import ListingMixin
from crawlers.spiders.sitemaps import SitemapMixin
from crawlers.spiders.social import ForumMixin, MastodonMixin, RedditMixin, TelegramMixin


class MonitorSpider(
    FeedMixin,
    SitemapMixin,
    ListingMixin,
    RedditMixin,
    MastodonMixin,
    TelegramMixin,
    ForumMixin,
    BaseSourceSpider,
):
    name = "diemtin"

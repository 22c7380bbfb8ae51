"""Crawlers: a Scrapy project with spiders per source kind, extraction and store pipelines."""

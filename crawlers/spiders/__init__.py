"""Spiders: one per kind of source, combined into one crawler so per-host politeness holds."""

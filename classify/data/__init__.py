"""Gazetteer data (see SOURCES.md)."""

"""Maintenance scripts for the classification stage (not imported at run time)."""

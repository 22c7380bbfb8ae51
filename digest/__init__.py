"""The daily press digest (see issue 4)."""

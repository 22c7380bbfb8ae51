"""The officers' review web app (see issue 5)."""

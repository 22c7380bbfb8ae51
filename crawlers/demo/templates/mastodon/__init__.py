"""Templates of the demo outlet 'mastodon' (a package only so that wheels ship them)."""

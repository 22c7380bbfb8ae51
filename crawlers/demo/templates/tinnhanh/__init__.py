"""Templates of the demo outlet 'tinnhanh' (a package only so that wheels ship them)."""

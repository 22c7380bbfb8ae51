"""Templates of the demo outlet 'baohong' (a package only so that wheels ship them)."""

"""Templates of the demo outlet 'diendan' (a package only so that wheels ship them)."""

"""Templates of the demo outlet 'reddit' (a package only so that wheels ship them)."""

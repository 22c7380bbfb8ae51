"""Templates of the demo outlet 'baovinhlong' (a package only so that wheels ship them)."""

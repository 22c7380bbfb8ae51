"""Templates of the demo outlet 'telegram' (a package only so that wheels ship them)."""

"""Templates of the demo outlet 'thoibao' (a package only so that wheels ship them)."""

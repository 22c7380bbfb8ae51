"""Templates of the demo outlet 'vietbao' (a package only so that wheels ship them)."""

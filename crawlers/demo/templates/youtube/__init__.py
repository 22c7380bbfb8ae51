"""Templates of the demo outlet 'youtube' (a package only so that wheels ship them)."""

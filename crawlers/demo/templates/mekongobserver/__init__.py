"""Templates of the demo outlet 'mekongobserver' (a package only so that wheels ship them)."""

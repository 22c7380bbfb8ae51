"""Page templates of the demo outlets (data only; one folder per outlet)."""

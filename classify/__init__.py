"""Classification: text keys, gazetteer, stories and labels (see issue 3)."""

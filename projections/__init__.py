"""Read models derived from the store's total order of events (see issue 3)."""

"""Business features, one folder each, with the same file roles."""

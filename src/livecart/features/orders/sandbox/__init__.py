"""A payment provider that behaves like a real one, for development, demos and tests."""

"""`livecart bench …`: benchmarks that print one JSON line of figures."""

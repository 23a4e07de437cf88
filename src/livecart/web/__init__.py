"""The HTTP edge: error mapping, limits, pages and static files. No business rules here."""

"""Small shared building blocks: clock, ids, money, pagination, image checks, file storage."""

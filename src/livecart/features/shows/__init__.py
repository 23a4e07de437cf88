"""Shows: scheduling, the product lineup, state transitions, stream keys and reminders."""

"""Typed room events, the broker (memory | redis), the hub and connections (room issue)."""

"""Engine, unit of work and the declarative base."""

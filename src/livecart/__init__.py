"""livecart: a self-hosted live-stream commerce platform."""

__version__ = "0.1.0"

"""Video tooling over files: ffmpeg, encoding ladders, quality measurement (no database)."""

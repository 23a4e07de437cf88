"""Live video: RTMP ingest through nginx-rtmp, HLS packaging, recording, replay with markers."""

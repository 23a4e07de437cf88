"""The helper that starts real servers on free ports for benchmarks and tests."""

from __future__ import annotations

import socket

from livecart.bench.servers import free_ports


def test_free_ports_are_distinct_and_bindable() -> None:
    # Asking one port at a time, closing each before the next, once handed the HTTP and the
    # RTMP listener the same port; every port of one request must differ.
    for _ in range(20):
        ports = free_ports(3)
        assert len(set(ports)) == 3
    for port in free_ports(8):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))

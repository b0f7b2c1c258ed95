"""The Slack client's connection pool against a real loopback HTTP/1.1 server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.slack import kept_alive
from bot.slack.kept_alive import KeptAlive


class Server:
    """Counts connections; can be told to close after answering, or to drop idle ones."""

    def __init__(self) -> None:
        self.connections = 0
        self.close_after = False
        self.sockets: list[socket.socket] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *_: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                server.connections += 1
                server.sockets.append(self.connection)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"] or 0))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if server.close_after:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/api/x"

    def drop_idle(self) -> None:
        """What a server does to connections idle too long: closes its end."""
        for sock in self.sockets:
            sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.http.shutdown()
    running.http.server_close()


@pytest.fixture
def pools() -> Iterator[list[KeptAlive]]:
    made: list[KeptAlive] = []
    yield made
    for pool in made:
        pool.close()


def new_pool(pools: list[KeptAlive], size: int = 4) -> KeptAlive:
    pool = KeptAlive(timeout=5, size=size, ssl_context=None)
    pools.append(pool)
    return pool


def test_one_connection_carries_many_calls(pools: list[KeptAlive], server: Server) -> None:
    pool = new_pool(pools, size=4)
    for i in range(20):
        assert pool.post(server.url, f"call {i}".encode(), {}).body == f"call {i}".encode()
    assert server.connections == 1


def test_a_connection_the_server_closed_is_not_reused(
    pools: list[KeptAlive], server: Server
) -> None:
    pool = new_pool(pools, size=4)
    pool.post(server.url, b"first", {})
    server.drop_idle()
    answer = pool.post(server.url, b"second", {})  # no error: a fresh connection carried it
    assert answer.status == 200 and answer.body == b"second"
    assert server.connections == 2


def test_connection_close_is_honoured(pools: list[KeptAlive], server: Server) -> None:
    server.close_after = True
    pool = new_pool(pools, size=4)
    for _ in range(3):
        pool.post(server.url, b"x", {})
    assert server.connections == 3
    assert not any(pool._idle.values())


def test_an_old_idle_connection_is_replaced(
    pools: list[KeptAlive], server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = new_pool(pools, size=4)
    pool.post(server.url, b"x", {})
    monkeypatch.setattr(kept_alive, "MAX_IDLE_SECONDS", 0.0)
    pool.post(server.url, b"x", {})
    assert server.connections == 2


def test_the_pool_keeps_at_most_its_size(pools: list[KeptAlive], server: Server) -> None:
    pool = new_pool(pools, size=2)
    barrier = threading.Barrier(6)

    def call() -> None:
        barrier.wait()
        pool.post(server.url, b"x", {})

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(idle) for idle in pool._idle.values()) <= 2


def test_an_unreachable_server_raises_an_os_error(pools: list[KeptAlive]) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, never listening: refused
        pool = new_pool(pools, size=2)
        with pytest.raises(OSError):
            pool.post(f"http://127.0.0.1:{held.getsockname()[1]}/api/x", b"x", {})


def test_small_writes_are_not_held_back(pools: list[KeptAlive], server: Server) -> None:
    """Headers and body go out as two writes; Nagle's algorithm would hold the second."""
    pool = new_pool(pools, size=2)
    pool.post(server.url, b"x", {})
    (_, connection), *_ = next(iter(pool._idle.values()))
    assert connection.sock is not None
    assert connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_tls_context_is_made_once_per_pool(
    pools: list[KeptAlive], server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    real = kept_alive.ssl.create_default_context

    def counted() -> object:
        made.append(1)
        return real()

    monkeypatch.setattr(kept_alive.ssl, "create_default_context", counted)
    pool = new_pool(pools, size=2)
    https = server.url.replace("http://", "https://")  # a plain server: the handshake fails
    for _ in range(3):
        with pytest.raises(OSError):
            pool.post(https, b"x", {})
    assert len(made) == 1
    pool.post(server.url, b"x", {})  # plain HTTP needs none
    assert len(made) == 1

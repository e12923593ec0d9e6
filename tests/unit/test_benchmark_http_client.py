"""The benchmark's load client keeps its connection (issue #22): a client that reconnected for
every request made the server accept a connection per command, and every figure paid for it."""

import asyncio
import socket
from typing import Any

import uvicorn
from benchmarks.http_client import Connection


async def _answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"2")]
    if scope["path"] == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _peers_seen(paths: list[str]) -> list[tuple[str, int]]:
    """The client's own address at each request: the same one while the connection is kept."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_answer, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    client = Connection(f"http://127.0.0.1:{port}")
    seen = []
    try:
        for path in paths:
            status, body = await client.request("POST", path, b"", b"{}")
            assert (status, body) == (200, b"{}")
            writer = client._writer
            seen.append(writer.get_extra_info("sockname") if writer else ("closed", 0))
    finally:
        await client.close()
        server.should_exit = True
        await serving
    return seen


def test_the_load_client_sends_every_request_on_one_kept_connection() -> None:
    seen = asyncio.run(_peers_seen(["/a", "/b", "/c"]))
    assert seen[0] != ("closed", 0)
    assert seen == [seen[0]] * 3


def test_the_load_client_reconnects_after_the_server_closes_the_connection() -> None:
    seen = asyncio.run(_peers_seen(["/close", "/a", "/b"]))
    assert seen[0] == ("closed", 0)
    assert seen[1] != ("closed", 0)
    assert seen[2] == seen[1]

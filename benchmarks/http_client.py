"""A lean HTTP/1.1 client for the load: one keep-alive connection per simulated client.

The benchmark shares the machine with what it measures (2 cores here), so the load generator's
own CPU is taken from the server. httpx cost ≈ 1 ms of CPU per request (0.35 to 0.45 of a core at
400 requests/s); this client writes the request bytes itself and parses the answer with
httptools (uvicorn's own parser), for a fraction of that. It speaks just what the benchmark
needs: GET and POST with a body, answers with Content-Length or chunked, keep-alive.
"""

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit

import httptools


class HttpError(Exception):
    """The connection failed or the answer could not be parsed."""


class _Answer:
    """httptools callbacks: collects the status and the body of one answer."""

    __slots__ = ("body", "complete", "keep_alive", "parser")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = True
        self.parser = httptools.HttpResponseParser(self)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # Asked here: once the callback returns, llhttp resets the parser for the next answer
        # and ``should_keep_alive()`` says False, which closed the connection after every
        # request (issue #22: a TCP connect and a new server protocol for each command).
        self.keep_alive = self.parser.should_keep_alive()


class Connection:
    """One keep-alive connection to ``base_url``; requests on it run one after the other."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self._host_header = f"Host: {self.host}:{self.port}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._reader, self._writer

    async def request(
        self, method: str, path: str, headers: bytes = b"", body: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, body). ``headers``: pre-encoded ``Name: value\\r\\n`` lines."""
        reader, writer = await self._open()
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._host_header + headers
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body)}\r\n".encode()
        writer.write(head + b"\r\n" + body)
        answer = _Answer()
        parser = answer.parser
        try:
            async with asyncio.timeout(self.timeout):
                while not answer.complete:
                    chunk = await reader.read(65536)
                    if not chunk:
                        raise HttpError(f"{method} {path}: the server closed the connection")
                    parser.feed_data(chunk)
        except (OSError, httptools.HttpParserError, TimeoutError) as e:
            await self.close()
            raise HttpError(f"{method} {path}: {e!r}") from e
        if not answer.keep_alive:
            await self.close()
        return parser.get_status_code(), b"".join(answer.body)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def encode_headers(headers: dict[str, str]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()

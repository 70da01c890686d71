"""A lean HTTP/1.1 client for the load generators: kept-alive connections, JSON in and out.

The load generator runs on the same two CPUs as the servers it measures, so each
millisecond it spends is taken from them. `requests` spent about a millisecond of CPU
on each request, a quarter of what a write cost all told on PostgreSQL; `http.client`
on a kept-alive connection spends a fraction of that. `Session` offers the part of
`requests.Session` that the benchmarks use.
"""

from __future__ import annotations

import json as jsonlib
import select
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


class TransportError(Exception):
    """No answer: the connection failed, timed out or was closed mid-request."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.kind = type(cause).__name__


@dataclass(frozen=True)
class Response:
    status_code: int
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Session:
    """One kept-alive connection per host and port, as a `requests.Session` keeps them; not for several threads."""

    def __init__(self) -> None:
        self._connections: dict[str, HTTPConnection] = {}

    def request(self, method: str, url: str, json: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> Response:
        """Sends one request and reads its whole answer; raises `TransportError` when there is none.

        A request is never sent twice: a POST that failed mid-way may have been stored.
        """
        parts = urlsplit(url)
        connection = self._connection(parts.netloc, timeout)
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        headers = dict(headers or {})
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            content = response.read()
        except (OSError, HTTPException) as error:
            connection.close()
            raise TransportError(error) from error
        if response.will_close:
            connection.close()  # http.client opens a new one for the next request
        return Response(response.status, content)

    def get(self, url: str, timeout: float = 30.0) -> Response:
        return self.request("GET", url, timeout=timeout)

    def _connection(self, netloc: str, timeout: float) -> HTTPConnection:
        connection = self._connections.get(netloc)
        if connection is None:
            host, _, port = netloc.rpartition(":")
            connection = self._connections[netloc] = HTTPConnection(host, int(port), timeout=timeout)
        elif connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            # Readable while idle: the server closed it (gunicorn keeps an idle connection for 2 s).
            connection.close()
        connection.timeout = timeout
        return connection

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

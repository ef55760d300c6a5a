"""A local HTTP file server with switchable faults, for download and fault-injection tests.

Usage::

    with FaultyServer({"data.zip": payload}) as server:
        server.add_fault("drop", after=100)          # first GET of any file: cut after 100 B
        server.add_fault("status", status=500, path="data.zip", times=2)
        download(server.url("data.zip"), dest, backoff=0)
        assert server.hits("data.zip") == 4
        assert server.requests[-1].range == "bytes=100-"

Faults (each applies ``times`` times, None = for ever, to ``path`` or to every file):

- ``"drop"``: announce the full ``Content-Length``, send ``after`` bytes, close the connection.
- ``"corrupt"``: flip the byte at ``offset`` (default: the middle) of the body.
- ``"ignore_range"``: answer a ``Range`` request with 200 and the whole file.
- ``"status"``: answer with HTTP ``status`` (404, 500...) and a short text body.
- ``"slow"``: wait ``delay`` seconds before answering (to trigger client timeouts).

Only 127.0.0.1 on an ephemeral port; nothing leaves the machine.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KINDS = ("drop", "corrupt", "ignore_range", "status", "slow")


@dataclass
class Fault:
    """One switchable fault; ``times`` None means it never runs out."""

    kind: str
    path: str | None = None
    times: int | None = 1
    params: dict = field(default_factory=dict)


@dataclass
class RequestRecord:
    """What the server saw and answered for one request."""

    path: str
    range: str | None
    faults: tuple[str, ...]
    status: int = 0  # set before the answer is sent; -1 when the client went away
    bytes_sent: int = 0  # body bytes written (or about to be)


class FaultyServer:
    """Serve in-memory files over HTTP on 127.0.0.1, with faults injected on demand."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ------------------------------------------------------------------------------
    def add_file(self, name: str, data: bytes) -> None:
        """Serve ``data`` at ``/<name>``."""
        self.files[name.lstrip("/")] = data

    def add_fault(
        self, kind: str, *, path: str | None = None, times: int | None = 1, **params
    ) -> Fault:
        """Inject a fault (see the module docstring); returns it so a test can inspect it."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        fault = Fault(kind, path.lstrip("/") if path else None, times, params)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    # -- queries -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name.lstrip('/')}"

    def hits(self, name: str | None = None) -> int:
        """Number of requests received (for ``name`` only when given)."""
        with self._lock:
            return sum(1 for r in self.requests if name is None or r.path == name.lstrip("/"))

    def range_requests(self, name: str | None = None) -> list[str]:
        """The ``Range`` headers received (for ``name`` only when given)."""
        with self._lock:
            return [
                r.range
                for r in self.requests
                if r.range and (name is None or r.path == name.lstrip("/"))
            ]

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> FaultyServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- used by the handler -----------------------------------------------------------------
    def _take_faults(self, path: str) -> list[Fault]:
        """The faults that apply to this request (consuming one use of each)."""
        taken = []
        with self._lock:
            for fault in list(self.faults):
                if fault.path not in (None, path):
                    continue
                if fault.kind in {f.kind for f in taken}:
                    continue
                taken.append(fault)
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
        return taken

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)


class _Handler(BaseHTTPRequestHandler):
    owner: FaultyServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].lstrip("/")
        range_header = self.headers.get("Range")
        faults = {f.kind: f for f in self.owner._take_faults(path)}
        record = RequestRecord(path, range_header, tuple(faults))
        self.owner._record(record)  # on arrival, so the count is right when the client returns
        try:
            self._serve(record, faults)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timeout)
            record.status = -1

    def _serve(self, record: RequestRecord, faults: dict[str, Fault]) -> None:
        path, range_header = record.path, record.range
        if "slow" in faults:
            time.sleep(float(faults["slow"].params.get("delay", 1.0)))
        if "status" in faults:
            record.status = int(faults["status"].params.get("status", 500))
            self._send_simple(record.status, f"injected HTTP {record.status}\n".encode())
            return
        data = self.owner.files.get(path)
        if data is None:
            record.status = 404
            self._send_simple(404, b"not found\n")
            return

        start = 0
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
        if match and "ignore_range" not in faults:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            if start >= len(data):
                record.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start : min(end, len(data) - 1) + 1]
            status = 206
        else:
            body, status = data, 200

        if "corrupt" in faults and body:
            offset = int(faults["corrupt"].params.get("offset", len(body) // 2)) % len(body)
            body = body[:offset] + bytes([body[offset] ^ 0xFF]) + body[offset + 1 :]
        if "drop" in faults:
            body_sent = body[: int(faults["drop"].params.get("after", len(body) // 2))]
        else:
            body_sent = body
        record.status, record.bytes_sent = status, len(body_sent)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
        self.end_headers()
        self.wfile.write(body_sent)
        self.wfile.flush()
        if "drop" in faults:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _send_simple(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def closed_port_url(name: str = "file.zip") -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused (an offline stand-in)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"

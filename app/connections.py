"""Connection limits for `report-qa serve`: idle and slow clients are timed out.

uvicorn closes a keep-alive connection that stays idle after a response (`timeout_keep_alive`), but
waits forever for a client that connects and sends nothing, or sends its headers or body a byte at a
time. `with_read_timeout` adds that bound to uvicorn's HTTP protocol (h11 or httptools): a whole
request must arrive within `seconds` of its first byte (or of the connection opening); otherwise the
client gets a 408 with our sentence and the connection is closed.
"""

from __future__ import annotations

import json

SLOW = "请求发送得太慢，连接已关闭。The request took too long to arrive; the connection was closed."


def _408() -> bytes:
    body = json.dumps({"error": SLOW}, ensure_ascii=False).encode("utf-8")
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)


def with_read_timeout(protocol_class: type, seconds: float) -> type:
    """A subclass of uvicorn's `protocol_class` that times out requests not fully received in `seconds`."""

    class ReadTimeoutProtocol(protocol_class):  # type: ignore[misc, valid-type]
        read_timeout = seconds

        def connection_made(self, transport) -> None:
            self._read_timer = None
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._request_pending():
                if self._read_timer is None:
                    self._arm()
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            self._disarm()  # idle from here on: uvicorn's keep-alive timeout applies
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _request_pending(self) -> bool:
            """No request in hand yet, or its body still arriving."""
            cycle = getattr(self, "cycle", None)
            return cycle is None or cycle.response_complete or cycle.more_body

        def _arm(self) -> None:
            self._disarm()
            self._read_timer = self.loop.call_later(self.read_timeout, self._timed_out)

        def _disarm(self) -> None:
            timer = getattr(self, "_read_timer", None)
            if timer is not None:
                timer.cancel()
                self._read_timer = None

        def _timed_out(self) -> None:
            self._read_timer = None
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self or not self._request_pending():
                return
            cycle = getattr(self, "cycle", None)
            if cycle is None or cycle.response_complete or not getattr(cycle, "response_started", True):
                transport.write(_408())  # nothing sent yet for this request: say why
            transport.close()

    ReadTimeoutProtocol.__name__ = f"ReadTimeout{protocol_class.__name__}"
    return ReadTimeoutProtocol


def server_options(settings, protocol_class: type | None = None) -> dict:
    """uvicorn keyword arguments for the connection limits in `settings`."""
    if protocol_class is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol as protocol_class
    return {"http": with_read_timeout(protocol_class, settings.request_read_timeout),
            "timeout_keep_alive": settings.keep_alive_timeout,
            "limit_concurrency": settings.max_connections,
            "h11_max_incomplete_event_size": 16 * 1024}

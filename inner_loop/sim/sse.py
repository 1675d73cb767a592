"""Server-sent events over HTTP/1.1 chunked transfer, as the loopback sim server streams them."""

from __future__ import annotations

from typing import BinaryIO


def write_events(out: BinaryIO, events: list[str], cut: int | None = None) -> bool:
    """Write one `data:` event per item, then `data: [DONE]` and the end of the chunked body.
    `cut`: stop before that event without ending the body (a stream cut half-way); returns
    False then (the connection must be closed), True for a whole stream."""
    for i, event in enumerate(events + ["[DONE]"]):
        if i == cut:
            return False
        data = f"data: {event}\n\n".encode()
        out.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
    out.write(b"0\r\n\r\n")
    return True

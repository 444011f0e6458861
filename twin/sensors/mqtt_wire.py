"""A small MQTT 5 client on asyncio streams, for the bridge's one hot connection.

Why not aiomqtt (paho) here: paho reads each packet's header one byte per recv() call and one
packet per loop turn, which measured about 1,500 messages/s on the 2-core CI machine, below the
5,000/s the bridge must take (issue #20). This client reads the socket in 64 KB chunks and cuts
packets out of the buffer, and it does only what the bridge needs, on one connection: CONNECT
(MQTT 5, clean start, optional user/password), one SUBSCRIBE with No Local (so the bridge does
not hear the entities it publishes itself), PUBLISH at QoS 0 out, PUBLISH at QoS 0/1 in
(PUBACK sent), PINGREQ keep-alive, DISCONNECT. The simulator and tests use paho (aiomqtt in
async code) as any client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

from twin.errors import TwinError

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0
NO_LOCAL = 0x04


class MqttWireError(TwinError):
    """The broker refused us, broke the protocol, or the connection went away."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _read_varint(buffer: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """(value, next offset), or None when the buffer ends inside it."""
    value, shift = 0, 0
    for i in range(4):
        if at + i >= len(buffer):
            return None
        byte = buffer[at + i]
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at + i + 1
        shift += 7
    raise MqttWireError("malformed remaining length from the broker")


class MqttConnection:
    """One MQTT 5 connection: `await connect(...)`, `subscribe`, `publish`, `messages()`."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._packet_id = 0
        self._out: list[bytes] = []  # published, not yet written
        self._pinger: asyncio.Task[None] | None = None

    async def connect(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        timeout: float = 5.0,
    ) -> None:
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=1 << 20), timeout
        )
        flags = 0x02 | (0x80 if username else 0) | (0x40 if password else 0)
        body = _text("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + b"\x00"
        body += _text(client_id)
        if username:
            body += _text(username)
        if password:
            body += _text(password)
        self.writer.write(_packet(CONNECT, body))
        first, payload = await asyncio.wait_for(self._one(), timeout)
        if first & 0xF0 != CONNACK or len(payload) < 2 or payload[1] != 0:
            code = payload[1] if len(payload) > 1 else -1
            raise MqttWireError(f"the broker refused the connection (reason code {code})")
        self._pinger = asyncio.create_task(self._ping(keepalive))

    async def _one(self) -> tuple[int, bytes]:
        """One whole packet, read plainly (before the message loop takes over the stream)."""
        assert self.reader is not None
        head = await self.reader.readexactly(2)
        length, shift, byte = head[1] & 0x7F, 7, head[1]
        while byte & 0x80:
            byte = (await self.reader.readexactly(1))[0]
            length += (byte & 0x7F) << shift
            shift += 7
        return head[0], await self.reader.readexactly(length)

    async def _ping(self, keepalive: int) -> None:
        while True:
            await asyncio.sleep(keepalive / 2)
            if self.writer is None or self.writer.is_closing():
                return
            self.writer.write(bytes([PINGREQ, 0]))

    async def subscribe(self, topic: str, qos: int = 1, no_local: bool = True) -> None:
        """Subscribe (the SUBACK is read by messages(), which must run next)."""
        assert self.writer is not None
        self._packet_id = self._packet_id % 65535 + 1
        options = qos | (NO_LOCAL if no_local else 0)
        body = struct.pack("!H", self._packet_id) + b"\x00" + _text(topic) + bytes([options])
        self.writer.write(_packet(SUBSCRIBE, body))
        await self.writer.drain()

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 0; kept until drain() writes what was published in one go (one
        send per batch, not per message)."""
        if self.writer is None or self.writer.is_closing():
            raise MqttWireError("not connected")
        topic_bytes = topic.encode()
        body_length = 2 + len(topic_bytes) + 1 + len(payload)
        self._out += (
            bytes([PUBLISH]),
            _varint(body_length),
            struct.pack("!H", len(topic_bytes)),
            topic_bytes,
            b"\x00",  # no properties
            payload,
        )

    async def drain(self) -> None:
        """Write what was published and wait while the socket's buffer is full."""
        if self.writer is None:
            raise MqttWireError("not connected")
        if self._out:
            data, self._out = b"".join(self._out), []
            self.writer.write(data)
        await self.writer.drain()

    async def messages(self) -> AsyncIterator[list[tuple[str, bytes]]]:
        """Incoming PUBLISH packets, in chunks as they arrive: lists of (topic, payload).
        Ends (MqttWireError) when the connection goes away."""
        assert self.reader is not None and self.writer is not None
        buffer = bytearray()
        while True:
            chunk = await self.reader.read(1 << 16)
            if not chunk:
                raise MqttWireError("the broker closed the connection")
            buffer += chunk
            out: list[tuple[str, bytes]] = []
            at = 0
            acks = bytearray()
            while at + 2 <= len(buffer):
                read = _read_varint(buffer, at + 1)
                if read is None:
                    break
                length, start = read
                end = start + length
                if end > len(buffer):
                    break
                first = buffer[at]
                kind = first & 0xF0
                if kind == PUBLISH:
                    qos = (first >> 1) & 0x03
                    (size,) = struct.unpack_from("!H", buffer, start)
                    topic = bytes(buffer[start + 2 : start + 2 + size]).decode(errors="replace")
                    pos = start + 2 + size
                    if qos:
                        acks += bytes([PUBACK, 2]) + buffer[pos : pos + 2]
                        pos += 2
                    props = _read_varint(buffer, pos)
                    if props is None:
                        raise MqttWireError("malformed PUBLISH from the broker")
                    pos = props[1] + props[0]
                    out.append((topic, bytes(buffer[pos:end])))
                elif kind == SUBACK:
                    props = _read_varint(buffer, start + 2)  # after the packet id
                    codes = buffer[props[1] + props[0] : end] if props else b""
                    if any(code >= 0x80 for code in codes):
                        raise MqttWireError(f"the broker refused the subscription ({codes!r})")
                elif kind == DISCONNECT:
                    raise MqttWireError("the broker disconnected us")
                at = end
            del buffer[:at]
            if acks:
                self.writer.write(bytes(acks))
            if out:
                yield out

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.write(bytes([DISCONNECT, 0]))
                self.writer.close()
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        self.reader = self.writer = None

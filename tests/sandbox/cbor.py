"""Minimal CBOR (RFC 8949) codec, enough for AWS's rpc-v2-cbor protocol.

The Rust aws-sdk-cloudwatch (>= 1.1xx) speaks Smithy RPC v2 CBOR; moto 5.2.5
does not, so the router translates CBOR <-> JSON in front of it.

Decoding: tag 1 (epoch time) becomes a float (the JSON protocols use epoch
seconds for timestamps), byte strings become ``bytes``.
Encoding: ``bytes`` -> byte string, ``EpochTime`` -> tag 1 + float.
"""
import struct


class EpochTime(float):
    """A float that encodes as CBOR tag 1 (epoch seconds)."""


def _head(major, n):
    if n < 24:
        return bytes([(major << 5) | n])
    if n < 0x100:
        return bytes([(major << 5) | 24, n])
    if n < 0x10000:
        return bytes([(major << 5) | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([(major << 5) | 26]) + struct.pack(">I", n)
    return bytes([(major << 5) | 27]) + struct.pack(">Q", n)


def dumps(obj) -> bytes:
    out = bytearray()
    _enc(obj, out)
    return bytes(out)


def _enc(o, out):
    if o is None:
        out += b"\xf6"
    elif o is True:
        out += b"\xf5"
    elif o is False:
        out += b"\xf4"
    elif isinstance(o, EpochTime):
        out += b"\xc1"
        out += b"\xfb" + struct.pack(">d", float(o))
    elif isinstance(o, int):
        if o >= 0:
            out += _head(0, o)
        else:
            out += _head(1, -1 - o)
    elif isinstance(o, float):
        out += b"\xfb" + struct.pack(">d", o)
    elif isinstance(o, (bytes, bytearray)):
        out += _head(2, len(o)) + bytes(o)
    elif isinstance(o, str):
        b = o.encode("utf-8")
        out += _head(3, len(b)) + b
    elif isinstance(o, (list, tuple)):
        out += _head(4, len(o))
        for x in o:
            _enc(x, out)
    elif isinstance(o, dict):
        out += _head(5, len(o))
        for k, v in o.items():
            _enc(str(k), out)
            _enc(v, out)
    else:
        raise TypeError(f"cannot CBOR-encode {type(o)}")


_BREAK = object()


def loads(data: bytes):
    if not data:
        return {}
    val, pos = _dec(memoryview(data), 0)
    return val


def _uint(mv, pos, info):
    if info < 24:
        return info, pos
    if info == 24:
        return mv[pos], pos + 1
    if info == 25:
        return struct.unpack(">H", mv[pos:pos + 2])[0], pos + 2
    if info == 26:
        return struct.unpack(">I", mv[pos:pos + 4])[0], pos + 4
    if info == 27:
        return struct.unpack(">Q", mv[pos:pos + 8])[0], pos + 8
    if info == 31:
        return None, pos  # indefinite length
    raise ValueError("bad CBOR additional info")


def _dec(mv, pos):
    ib = mv[pos]
    pos += 1
    major, info = ib >> 5, ib & 0x1F
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info in (22, 23):
            return None, pos
        if info == 25:
            return _half(struct.unpack(">H", mv[pos:pos + 2])[0]), pos + 2
        if info == 26:
            return struct.unpack(">f", mv[pos:pos + 4])[0], pos + 4
        if info == 27:
            return struct.unpack(">d", mv[pos:pos + 8])[0], pos + 8
        if info == 31:
            return _BREAK, pos
        return None, pos
    n, pos = _uint(mv, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major in (2, 3):
        if n is None:
            chunks = []
            while True:
                c, pos = _dec(mv, pos)
                if c is _BREAK:
                    break
                chunks.append(c)
            return (b"" if major == 2 else "").join(chunks), pos
        raw = bytes(mv[pos:pos + n])
        pos += n
        return (raw if major == 2 else raw.decode("utf-8")), pos
    if major == 4:
        items = []
        if n is None:
            while True:
                x, pos = _dec(mv, pos)
                if x is _BREAK:
                    break
                items.append(x)
        else:
            for _ in range(n):
                x, pos = _dec(mv, pos)
                items.append(x)
        return items, pos
    if major == 5:
        d = {}
        if n is None:
            while True:
                k, pos = _dec(mv, pos)
                if k is _BREAK:
                    break
                v, pos = _dec(mv, pos)
                d[k] = v
        else:
            for _ in range(n):
                k, pos = _dec(mv, pos)
                v, pos = _dec(mv, pos)
                d[k] = v
        return d, pos
    if major == 6:
        v, pos = _dec(mv, pos)
        if n == 1:
            return float(v), pos
        return v, pos
    raise ValueError("bad CBOR")


def _half(h):
    s = (h >> 15) & 1
    e = (h >> 10) & 0x1F
    f = h & 0x3FF
    if e == 0:
        v = f * 2.0 ** -24
    elif e == 31:
        v = float("inf") if f == 0 else float("nan")
    else:
        v = (1 + f / 1024.0) * 2.0 ** (e - 15)
    return -v if s else v

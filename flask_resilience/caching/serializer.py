"""The serializer we hand to Flask-Caching (``CACHE_SERIALIZER``): JSON or msgpack, never pickle.

Flask-Caching and cachelib pickle by default, and unpickling bytes an attacker could place in
Redis runs their code (CVE-2021-33026). Everything we store is plain data, so one prefix byte
says how the rest is encoded::

    j<json>    J<zlib(json)>    m<msgpack>    M<zlib(msgpack)>    123 (a bare int, for INCR)

Payloads longer than ``compress_min_bytes`` are zlib-compressed when that makes them smaller.
Bytes with any other first byte (a pickle left by an old deployment) read as a miss, never as code.

>>> s = CacheSerializer()
>>> s.loads(s.dumps({"quiz": 1}))
{'quiz': 1}
"""

from __future__ import annotations

import importlib
import json
import logging
import zlib
from collections.abc import Callable
from typing import IO, Any

from cachelib.serializers import BaseSerializer

logger = logging.getLogger("flask_resilience.cache")

JSON, JSON_Z, MSGPACK, MSGPACK_Z = b"j", b"J", b"m", b"M"
COMPRESSION_LEVEL = 6


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class CacheSerializer(BaseSerializer):
    """Encodes plain data (dict, list, str, numbers, bool, None) with a codec marker byte."""

    def __init__(self, codec: str = "json", compress_min_bytes: int = 1024) -> None:
        self.codec = codec
        self.compress_min_bytes = compress_min_bytes
        self._marker, self._compressed_marker = (
            (JSON, JSON_Z)
            if codec == "json"
            else (
                MSGPACK,
                MSGPACK_Z,
            )
        )
        self._encode: Callable[[Any], bytes] = _json_dumps
        if codec == "msgpack":
            msgpack = importlib.import_module("msgpack")
            self._encode = lambda value: msgpack.packb(value, use_bin_type=True)

    def dumps(self, value: Any, protocol: int | None = None) -> bytes:
        """Encode ``value``; raises TypeError for objects that are not plain data."""
        if type(value) is int:  # bare ints stay ASCII so Flask-Caching's inc/dec keep working
            return str(value).encode("ascii")
        body = self._encode(value)
        if len(body) > self.compress_min_bytes:
            packed = zlib.compress(body, COMPRESSION_LEVEL)
            if len(packed) < len(body):
                return self._compressed_marker + packed
        return self._marker + body

    def loads(self, bvalue: bytes | None) -> Any:
        """Decode what :meth:`dumps` wrote; anything else (e.g. a pickle) reads as None."""
        if not bvalue:
            return None
        marker, body = bvalue[:1], bvalue[1:]
        try:
            if marker in (JSON_Z, MSGPACK_Z):
                body = zlib.decompress(body)
            if marker in (JSON, JSON_Z):
                return json.loads(body)
            if marker in (MSGPACK, MSGPACK_Z):
                msgpack = importlib.import_module("msgpack")
                return msgpack.unpackb(body, raw=False, strict_map_key=False)
            if bvalue.lstrip(b"-").isdigit():
                return int(bvalue)
        except (ValueError, zlib.error, ImportError) as exc:
            logger.warning("cache value could not be decoded (%s); treating it as a miss", exc)
            return None
        logger.warning("cache value with unknown marker %r ignored (never unpickled)", marker)
        return None

    def dump(self, value: Any, f: IO[bytes], protocol: int | None = None) -> None:
        """File-based backends (FileSystemCache) get the same encoding."""
        f.write(self.dumps(value))

    def load(self, f: IO[bytes]) -> Any:
        return self.loads(f.read())

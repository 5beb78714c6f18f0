"""Test-side helpers for the sandbox's API: clients holding a user's OAuth 2.0
bearer token (minted through the control API), and small real media files."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import requests

SHARED_X_API = Path(__file__).resolve().parents[2].parent / "shared" / "x-api"
ALL_SCOPES = "tweet.read tweet.write users.read offline.access media.write"
ALICE, BOB, CAROL = "1001", "1002", "1003"


class ApiClient:
    """HTTP to the sandbox, as one user (or, without a token, as a test script)."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.token = token
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def tweet(self, text: str, **fields) -> requests.Response:
        return self.post("/2/tweets", json={"text": text, **fields})


def mint_tokens(base_url: str, user_id: str, **spec) -> dict:
    """Tokens for a user through ``POST /_sandbox/users/<id>/tokens``."""
    response = requests.post(f"{base_url}/_sandbox/users/{user_id}/tokens", data=json.dumps(spec), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(base_url: str, user_id: str, scopes: str = ALL_SCOPES, ttl: int | None = None) -> str:
    options: dict = {"scopes": scopes}
    if ttl is not None:
        options["ttl"] = ttl
    return mint_tokens(base_url, user_id, oauth2=options)["oauth2"]["access_token"]


def create_user(base_url: str, username: str) -> str:
    response = requests.post(f"{base_url}/_sandbox/users", json={"username": username}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def gif() -> bytes:
    """A 1x1 GIF."""
    return bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def mp4(size: int = 4096) -> bytes:
    """Bytes that start like an MP4 file (an ``ftyp`` box), padded to ``size``."""
    head = struct.pack(">I", 24) + b"ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"
    return head + b"\x00" * (size - len(head))

"""Files a person chose on a post form that came back with errors, kept for
their next try: a browser never fills a file box again, and without this the
next save would fail on "This field is required" for a file already sent.

A file is staged only when its form is sent back: it is stored under
``staged/`` with a random name and the page carries a signed token for it (the
stored name, the file's own name, type and size, and who sent it). The next
send of the form takes the token in place of a new file. A token is good for
one person and ``STAGED_FOR``; a changed or foreign one is ignored, and the
file box asks for a file as before. Staged files are never served (no row
owns them, ``bots.media_files``); the sweeper removes those left behind."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

FOLDER = "staged"
STAGED_FOR = timedelta(hours=24)
_SALT = "bots.staged_uploads"


def stage(upload: UploadedFile, *, user_id: int) -> str:
    """Store ``upload`` for the person's next try; the token that names it."""
    extension = Path(upload.name or "").suffix.lower()
    if not (extension[1:].isalnum() and extension.isascii() and len(extension) <= 6):
        extension = ""
    upload.seek(0)
    stored = default_storage.save(f"{FOLDER}/{uuid.uuid4().hex}{extension}", upload)
    upload.seek(0)
    return signing.dumps(
        {"stored": stored, "name": upload.name or "the file", "type": upload.content_type or "",
         "size": upload.size or 0, "user": user_id},
        salt=_SALT, compress=True,
    )


def staged_name(token: str, *, user_id: int) -> str:
    """The file's own name, for the form to say what it keeps ("" for a bad token)."""
    found = _read(token, user_id=user_id)
    return found["name"] if found else ""


def unstage(token: str, *, user_id: int) -> UploadedFile | None:
    """The staged file as an upload, or None when the token is not the
    person's, has been changed, is too old, or its file is gone."""
    found = _read(token, user_id=user_id)
    if found is None:
        return None
    return UploadedFile(file=default_storage.open(found["stored"]), name=found["name"],
                        content_type=found["type"], size=found["size"])


def _read(token: str, *, user_id: int) -> dict | None:
    if not token:
        return None
    try:
        found = signing.loads(token, salt=_SALT, max_age=STAGED_FOR)
    except signing.BadSignature:
        return None
    if not isinstance(found, dict) or found.get("user") != user_id:
        return None
    stored = str(found.get("stored", ""))
    if not stored.startswith(f"{FOLDER}/") or not default_storage.exists(stored):
        return None
    return found


def sweep(*, now: datetime | None = None) -> int:
    """Remove staged files older than ``STAGED_FOR``; how many it removed."""
    cutoff = (now or timezone.now()) - STAGED_FOR
    try:
        _, names = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in names:
        path = f"{FOLDER}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return removed

"""Which row an uploaded file belongs to, so that the file is served only to
those who may see that row (``accounts.access``). Files are stored under
random names (``models.media_upload_to``): a name cannot be guessed from
another, and a name alone grants nothing."""

from __future__ import annotations

from django.db import models

from bots.planning.models import ImportJob
from bots.posting.models import PostMedia


def owner_of(name: str) -> models.Model | None:
    """The post media or CSV import whose file is stored as ``name``."""
    for model in (PostMedia, ImportJob):
        row = model.objects.filter(file=name).first()
        if row is not None:
            return row
    return None

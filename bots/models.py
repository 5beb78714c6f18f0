"""The app's models, defined by concern in bots.posting, bots.recurring and
bots.planning, and gathered here, where Django and the migrations look for them."""

from bots.planning.models import AccountBudget, ImportJob, PostCalendar, PostingQueue, PostingSlot, import_upload_to
from bots.posting.models import Post, PostMedia, PublishedTally, media_upload_to
from bots.recurring.models import Bot, BotItem, BotRun

__all__ = [
    "AccountBudget", "Bot", "BotItem", "BotRun", "ImportJob", "Post", "PostCalendar", "PostMedia",
    "PostingQueue", "PostingSlot", "PublishedTally", "import_upload_to", "media_upload_to",
]

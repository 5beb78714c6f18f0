"""Where a bot's posts come from: one seam, one class per kind of source.

A source checks a bot's settings (``check``) and, at each run, gives the next
post's text (``next_content``). The run (``bots.recurring.services.run_bot``)
does the rest the same way for every source: the lock, the one run per slot,
validation, handing the post to publishing, and pausing the bot when the
source cannot go on. A new kind of source (mentions, search, a feed) is a new
class here and a choice on ``Bot.Source``."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from django.db.models import F
from django.utils import timezone

from bots.posting.validation import validate_post
from bots.recurring import templating
from bots.recurring.models import Bot, BotItem

Complain = Callable[[str, str], None]


class SourceStopped(Exception):
    """The source cannot give a next post until a person acts; the message says what to do."""


@dataclass(frozen=True)
class Content:
    text: str
    # What the text came from, for a person: "The queue item at position 3".
    origin: str
    # Called once the post is handed to publishing (in the run's transaction).
    used: Callable[[datetime], None] = lambda when: None


class ContentSource(Protocol):
    def check(self, bot: Bot, complain: Complain, zone: tzinfo) -> None:
        """Report each problem of the bot's settings as complain(field, message)."""

    def next_content(self, bot: Bot, slot: datetime, zone: tzinfo) -> Content:
        """The next post for the run at ``slot``; raises SourceStopped when there is none."""


class QueueSource:
    """The bot's items in order: each once, or round again from the top."""

    def check(self, bot: Bot, complain: Complain, zone: tzinfo) -> None:
        return None

    def next_content(self, bot: Bot, slot: datetime, zone: tzinfo) -> Content:
        items = bot.items.all()
        if bot.queue_mode == Bot.QueueMode.CYCLE:
            item = items.order_by(F("used_at").asc(nulls_first=True), "position", "pk").first()
        else:
            item = items.filter(used_at__isnull=True).order_by("position", "pk").first()
        if item is None:
            if items.exists():
                raise SourceStopped(f"The queue is empty: all {items.count()} items have been posted. "
                                    "Add items (or choose “start again from the top”) and enable the bot again.")
            raise SourceStopped("The queue has no items: add some and enable the bot again.")
        return Content(item.text, f"The queue item at position {item.position}",
                       used=lambda when: BotItem.objects.filter(pk=item.pk).update(used_at=when))


class TemplateSource:
    """A template with lists of words to choose from, the date and a counter."""

    def check(self, bot: Bot, complain: Complain, zone: tzinfo) -> None:
        try:
            lists = templating.parse_lists(bot.template_lists)
            sample = templating.render(
                bot.template, lists, when=timezone.now().astimezone(zone), n=bot.run_count + 1,
                choose=random.Random(0), longest=True,
            )
        except templating.TemplateError as error:
            complain(error.field, error.message)
            return
        for messages in validate_post(text=sample).errors.values():
            for message in messages:
                complain("template", f"{message} (checked with the longest option of each list)")

    def next_content(self, bot: Bot, slot: datetime, zone: tzinfo) -> Content:
        try:
            lists = templating.parse_lists(bot.template_lists)
            # Seeded by the slot: a run repeated for the same slot would pick the same words.
            text = templating.render(bot.template, lists, when=slot.astimezone(zone), n=bot.run_count + 1,
                                     choose=random.Random(f"{bot.pk}:{slot.isoformat()}"))
        except templating.TemplateError as error:
            raise SourceStopped(
                f"The template cannot be used: {error.message} Fix it and enable the bot again.") from None
        return Content(text, "The template's text")


SOURCES: dict[str, ContentSource] = {
    Bot.Source.QUEUE: QueueSource(),
    Bot.Source.TEMPLATE: TemplateSource(),
}

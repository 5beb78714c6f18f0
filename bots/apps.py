from __future__ import annotations

from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Bots"

    def ready(self) -> None:
        # How each of bots' rows reaches its workspace, for the one access
        # policy (accounts never imports bots). Proxies (the calendar, the
        # posting queue) follow the model they stand for.
        from accounts import access
        from bots.planning.models import AccountBudget, ImportJob, PostingSlot
        from bots.posting.models import Post, PostMedia, PublishedTally
        from bots.recurring.models import Bot, BotItem, BotRun

        access.register(Post, "account__workspace")
        access.register(PostMedia, "post__account__workspace")
        access.register(Bot, "account__workspace")
        access.register(BotItem, "bot__account__workspace")
        access.register(BotRun, "bot__account__workspace")
        access.register(PostingSlot, "account__workspace")
        access.register(AccountBudget, "account__workspace")
        access.register(ImportJob, "workspace")
        access.register(PublishedTally, "workspace")

        # What happens to an account's posts and bots when it is unlinked.
        from bots import account_events

        account_events.connect()

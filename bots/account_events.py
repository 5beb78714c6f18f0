"""What ``bots`` does when ``accounts`` says something happened to an X
account (``accounts.signals``; accounts never imports bots).

An unlinked (disconnected) account keeps its posts, bots and figures as a
record, and nothing of it goes out: its posts waiting to go out are held and
its bots paused, each with who unlinked it and when. Linking the account
again does not release them: unlinking was a person's decision, possibly
long ago, and a post or a bot run that goes out on X cannot be taken back,
so a person reschedules the posts and enables the bots they still want.
"""

from __future__ import annotations

from typing import Any

from accounts import signals
from accounts.models import XAccount
from bots.planning.models import AccountBudget, PostingSlot
from bots.posting import transitions
from bots.posting.models import Post
from bots.recurring import services as recurring
from bots.recurring.models import Bot


def _counted(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def stop_for_disconnected_account(sender: type[XAccount], *, account: XAccount, reason: str,
                                  **kwargs: Any) -> str | None:
    """Hold the account's scheduled posts (and those claimed but not sent
    yet) and pause its bots, with ``reason``; in the unlinking transaction."""
    held_reason = f"Held: {reason} Link it again, then schedule this post again to send it."
    scheduled = list(Post.objects.filter(account=account, status=Post.Status.SCHEDULED).values_list("pk", flat=True))
    # No time to go out at (as a thread part waiting for the part before it):
    # the dispatcher leaves them alone until a person schedules them again.
    held = transitions.hold(scheduled, until=None, reason=held_reason)
    claimed = Post.objects.filter(account=account, status=Post.Status.CLAIMED).values_list("pk", "claim_token")
    for post_id, token in list(claimed):
        # Released under the claim's own token: a worker that already moved
        # the post to sending keeps it (it is X's now), and one that has not
        # finds its claim gone and sends nothing.
        held += transitions.release(post_id, token=token, next_attempt_at=None, reason=held_reason)
    paused = 0
    for bot in Bot.objects.filter(account=account, enabled=True):
        recurring.bot_disable(bot=bot, reason=f"Paused: {reason} Link it again, then enable this bot again.")
        paused += 1
    if not held and not paused:
        return None
    done = []
    if held:
        done.append(f"{_counted(held, 'post that was to go out is', 'posts that were to go out are')} held")
    if paused:
        done.append(f"{_counted(paused, 'bot is', 'bots are')} paused")
    return f"{' and '.join(done)} until you link it again and schedule or enable them again."


def count_holdings(sender: type[XAccount], *, account: XAccount, **kwargs: Any) -> list[tuple[int, str]]:
    """What of bots' goes if the account is deleted for good."""
    posts = Post.objects.filter(account=account)
    total = posts.count()
    published = posts.filter(status=Post.Status.PUBLISHED).count()
    bots = Bot.objects.filter(account=account).count()
    slots = PostingSlot.objects.filter(account=account).count()
    budgets = AccountBudget.objects.filter(account=account).count()
    return [
        (total, "post" if total == 1 else "posts"),
        (published, "published post (it stays on X; only its record here goes)" if published == 1 else
         "published posts (they stay on X; only their record here goes)"),
        (bots, "bot" if bots == 1 else "bots"),
        (slots, "posting slot" if slots == 1 else "posting slots"),
        (budgets, "monthly budget" if budgets == 1 else "monthly budgets"),
    ]


def connect() -> None:
    signals.account_disconnected.connect(stop_for_disconnected_account, sender=XAccount,
                                         dispatch_uid="bots.stop_for_disconnected_account")
    signals.account_holdings.connect(count_holdings, sender=XAccount, dispatch_uid="bots.count_holdings")

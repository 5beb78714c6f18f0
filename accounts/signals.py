"""What ``accounts`` tells the apps whose rows hang from an X account.

``accounts`` never imports them (DESIGN.md): it sends these signals, and each
app connects its receivers in its ``ready()``. Both are sent with
``sender=XAccount`` and ``account=`` the account.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the unlinking transaction, once the account is disconnected and
# its tokens are gone; also ``reason``, who unlinked it and when, in words
# ("@name was unlinked by alice on 2026-12-02 14:40 UTC."). Receivers stop
# what they run for the account (its posts waiting to go out are held, its
# bots paused, each showing ``reason``) and return a sentence that says what
# they did, for the person who unlinked it, or None. A receiver that raises
# undoes the whole unlinking.
account_disconnected = Signal()

# Sent to say what deleting the account for good would delete with it.
# Receivers return a list of ``(count, what)`` pairs, e.g. ``(12, "posts")``,
# counted from their own rows.
account_holdings = Signal()

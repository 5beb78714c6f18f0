"""Finding threads by what they say or whose they are, as fast at a million
posts as at a hundred.

Each word is looked for in the text of every post (a thread's first post and
its parts alike) through one index: PostgreSQL's trigram index on the text
(``post_text_trgm_idx``, bots migration 0009) answers ``ILIKE '%word%'``
without reading the table. The threads are the roots of the posts found, so
the list never joins a thread to its parts, which made Django's search read
the whole table once per word. SQLite, which has no such index, runs the same
query by scanning.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.text import smart_split, unescape_string_literal

from accounts.models import XAccount
from bots.posting.models import Post


def words(search: str) -> list[str]:
    """The words of a search as the admin splits them: a "quoted phrase" is one."""
    found = []
    for bit in smart_split(search):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            found.append(bit)
    return found


def search_threads(roots: QuerySet[Post], search: str) -> QuerySet[Post]:
    """The threads among ``roots`` that match every word of ``search``, each
    word in the text of any of the thread's posts or in its account's handle.
    A search that is one ``@handle`` also finds that account's threads by its
    exact handle."""
    handle = search.strip()
    exact = handle[1:] if handle.startswith("@") and len(handle) > 1 and " " not in handle else None
    found: set[int] | None = None
    for word in words(search):
        accounts = Q(username__icontains=word)
        if exact is not None:
            accounts |= Q(username__iexact=exact)
        account_ids = list(XAccount.objects.filter(accounts).values_list("pk", flat=True))
        posts = Post.objects.filter(Q(text__icontains=word) | Q(account_id__in=account_ids))
        threads = posts.order_by().values_list(Coalesce("parent_id", "pk"), flat=True).distinct()
        # A word found in few posts: their threads by id, which PostgreSQL
        # reads one by one (as a subquery it guessed ten times the rows and
        # read every thread to join them).
        few = list(threads[: FEW + 1])
        if len(few) > FEW:
            # A common word: each thread's own text and handle are checked as
            # the list is read in its order, which stops at a page's worth;
            # the threads whose parts have it (parts are few) come by id.
            in_parts = Post.objects.filter(parent__isnull=False, text__icontains=word).order_by().values("parent_id")
            roots = roots.filter(Q(text__icontains=word) | Q(account_id__in=account_ids) | Q(pk__in=in_parts))
        else:
            found = set(few) if found is None else found & set(few)
    # The words found in few posts, as one list: the threads that have them all.
    return roots if found is None else roots.filter(pk__in=id_list(sorted(found), using=roots.db))


def id_list(ids: list[int], *, using: str) -> list[int] | RawSQL:
    """``ids`` for an ``__in`` lookup. On PostgreSQL, one array parameter:
    every query of a list page (its count, its dates, its rows) repeats the
    lookup, and thousands of parameters written out cost each of them more to
    send and plan than to run."""
    if connections[using].vendor != "postgresql":
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))  # nosec B611: the ids are a parameter


# A word whose posts' threads are no more than this many are looked up by id.
FEW = 5_000


def threads_in_status(roots: QuerySet[Post], status: str) -> QuerySet[Post]:
    """The threads among ``roots`` that are where ``status`` says, as the list's
    status column shows them: a thread's status is its first post's until that
    is published, then its first part's not yet published, then published.

    Threads are few among posts, so the threads whose status comes from a part
    are looked up first, by id; the rest is a condition on the first post's own
    status, which an index answers (a status worked out for every row read the
    whole table)."""
    published = Post.Status.PUBLISHED
    unpublished_parts = Post.objects.filter(parent__isnull=False).exclude(status=published)
    if status == published:
        waiting = list(unpublished_parts.filter(parent__status=published).values_list("parent_id", flat=True)
                       .distinct())
        return roots.filter(status=published).exclude(pk__in=waiting)
    earlier_unpublished = unpublished_parts.filter(parent_id=OuterRef("parent_id"), position__lt=OuterRef("position"))
    from_a_part = list(
        unpublished_parts.filter(parent__status=published, status=status).exclude(Exists(earlier_unpublished))
        .values_list("parent_id", flat=True)
    )
    return roots.filter(Q(status=status) | Q(pk__in=from_a_part)) if from_a_part else roots.filter(status=status)

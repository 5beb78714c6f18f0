"""Publish one post right away: ``manage.py post_now --account @name "text"``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import XAccount
from bots import publisher, scheduler, services
from bots.models import Post


class Command(BaseCommand):
    help = "Publish a post on a linked X account now, through the same pipeline as scheduled posts."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the linked X account, as @username")
        parser.add_argument("text", help="the post's text")

    def handle(self, *args, account: str, text: str, **options):
        username = account.lstrip("@")
        target = XAccount.objects.filter(username__iexact=username).first()
        if target is None:
            linked = ", ".join(f"@{a.username}" for a in XAccount.objects.order_by("username")) or "none"
            raise CommandError(f"No linked X account @{username}. Linked accounts: {linked}.")
        # Whoever runs the server's commands acts as the platform: no
        # workspace role, no approval.
        try:
            post = services.post_create(account=target, text=text, by=None, schedule=True,
                                        scheduled_at=timezone.now())
        except services.PostInvalid as error:
            raise CommandError(str(error)) from None
        if not scheduler.claim_post(post_id=post.pk):
            raise CommandError(f"Post {post.pk} was taken by a running dispatcher; a worker publishes it.")
        publisher.publish_post(post_id=post.pk)
        post.refresh_from_db()
        if post.status == Post.Status.PUBLISHED:
            self.stdout.write(self.style.SUCCESS(f"Published: {post.x_post_url}"))
            return
        if post.status in (Post.Status.UNKNOWN, Post.Status.SCHEDULED):
            self.stdout.write(
                f"Not published yet ({post.get_status_display().lower()}): {post.last_error} "
                f"The worker takes it from here (post {post.pk})."
            )
            return
        raise CommandError(f"Not published: {post.last_error}")

"""Linking X accounts and keeping them usable: the logic behind the link views,
the ``link_x_account`` command and the admin actions."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import access, audit, gateway, signals
from .gateway import XError, XErrorKind
from .models import LinkAttempt, Membership, User, Workspace, XAccount

log = logging.getLogger(__name__)

LINK_ATTEMPT_TTL = timedelta(minutes=10)


class LinkError(Exception):
    """Linking failed; ``message`` tells the person what happened and what to do.
    ``status`` is the HTTP status a view answers with (400 or 403)."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class LinkCancelled(Exception):
    """The person pressed Cancel on X's consent page."""


# --- workspaces ----------------------------------------------------------------------


def personal_workspace(*, user: User) -> Workspace:
    """A workspace of the person's own, which they own, made their current
    one: every person has one from the start (as everyone who used the
    platform before workspaces got one), and may be invited into others."""
    with transaction.atomic():
        workspace = Workspace.objects.create(name=f"{user.username}'s workspace", time_zone=user.timezone)
        Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.OWNER)
        User.objects.filter(pk=user.pk).update(workspace=workspace)
    user.workspace = workspace
    access.forget(user)
    return workspace


def personal_workspace_on_creation(sender: type[User], instance: User, created: bool, raw: bool = False,
                                   **kwargs) -> None:
    if created and not raw:
        personal_workspace(user=instance)


# --- starting ------------------------------------------------------------------------


def _new_attempt(*, user, method: str, workspace: Workspace | None = None, **fields) -> LinkAttempt:
    """An attempt bound to the person and to the workspace the account goes
    into once linked (their current one unless named); only its admins and
    owners may link."""
    workspace = workspace or access.current_workspace(user)
    if workspace is None:
        raise LinkError("You are not a member of any workspace: ask an owner of one to invite you.", status=403)
    if not access.allows(user, access.MANAGE, workspace):
        raise LinkError(f"Only an admin or owner of {workspace.name} can link X accounts to it.", status=403)
    now = timezone.now()
    return LinkAttempt.objects.create(
        user=user, workspace=workspace, method=method, created_at=now, expires_at=now + LINK_ATTEMPT_TTL, **fields
    )


def link_start_oauth1(*, user, callback_url: str, signin: bool = False) -> tuple[LinkAttempt, str]:
    """Get a request token from X; returns the attempt and the URL to send the person to."""
    return _start_oauth1(user=user, callback=callback_url, signin=signin, method=LinkAttempt.Method.OAUTH1)


def link_start_pin(*, user, workspace: Workspace | None = None) -> tuple[LinkAttempt, str]:
    """The PIN flow for headless servers: X shows the person a PIN instead of
    redirecting. The account goes into ``workspace``, or the person's current one."""
    return _start_oauth1(user=user, callback="oob", signin=False, method=LinkAttempt.Method.OAUTH1_PIN,
                         workspace=workspace)


def _start_oauth1(*, user, callback: str, signin: bool, method: str,
                  workspace: Workspace | None = None) -> tuple[LinkAttempt, str]:
    try:
        start = gateway.oauth1_start(callback=callback, signin=signin)
    except XError as error:
        raise LinkError(f"X refused to start linking: {error.message}") from None
    attempt = _new_attempt(
        user=user,
        method=method,
        workspace=workspace,
        request_token=start.request_token,
        request_token_secret=start.request_token_secret,
    )
    return attempt, start.authorize_url


def link_start_oauth2(*, user, redirect_uri: str) -> tuple[LinkAttempt, str]:
    start = gateway.oauth2_start(redirect_uri=redirect_uri)
    attempt = _new_attempt(
        user=user,
        method=LinkAttempt.Method.OAUTH2,
        state=start.state,
        code_verifier=start.code_verifier,
        redirect_uri=redirect_uri,
    )
    return attempt, start.authorize_url


# --- finishing -----------------------------------------------------------------------


def _attempt_for(*, attempt_id: str | None, user, method: str) -> LinkAttempt:
    """The attempt this browser session started, if it belongs to ``user``."""
    if not attempt_id:
        raise LinkError(
            "No X account linking is in progress in this browser session. "
            "Start again with “Link X account”.",
            status=400,
        )
    try:
        attempt = LinkAttempt.objects.get(pk=uuid.UUID(str(attempt_id)), method=method)
    except (ValueError, LinkAttempt.DoesNotExist):
        raise LinkError("This linking attempt is unknown. Start again with “Link X account”.", status=400) from None
    if attempt.user_id != user.pk:
        raise LinkError("This linking attempt belongs to another user.", status=403)
    if attempt.tokens_undecryptable:
        raise LinkError(
            "This linking attempt can no longer be read: the key that encrypted it was removed from "
            "TOKEN_ENCRYPTION_KEYS. Start again with “Link X account”."
        )
    return attempt


def _claim(attempt: LinkAttempt) -> None:
    """Use the attempt up, once: a replayed callback finds it used."""
    if attempt.is_expired:
        raise LinkError(
            "This linking attempt expired (they last 10 minutes). Start again with “Link X account”."
        )
    claimed = LinkAttempt.objects.filter(pk=attempt.pk, used_at__isnull=True).update(used_at=timezone.now())
    if claimed != 1:
        raise LinkError("This linking attempt was already used. Start again with “Link X account”.")


def link_finish_oauth1(
    *, user, attempt_id: str | None, oauth_token: str, oauth_verifier: str, denied: str
) -> XAccount:
    attempt = _attempt_for(attempt_id=attempt_id, user=user, method=LinkAttempt.Method.OAUTH1)
    answered_token = denied or oauth_token
    if not answered_token or not constant_time_compare(answered_token, attempt.request_token):
        raise LinkError("X's answer does not match the linking you started in this browser.", status=403)
    _claim(attempt)
    if denied:
        raise LinkCancelled()
    if not oauth_verifier:
        raise LinkError("X's answer has no oauth_verifier. Start again with “Link X account”.")
    return _finish_oauth1(attempt, oauth_verifier)


def link_finish_pin(*, user, attempt_id: str, pin: str) -> XAccount:
    attempt = _attempt_for(attempt_id=attempt_id, user=user, method=LinkAttempt.Method.OAUTH1_PIN)
    pin = pin.strip()
    if not pin.isdigit():
        raise LinkError(f"The PIN must be the digits X showed, got {pin!r}.")
    _claim(attempt)
    return _finish_oauth1(attempt, pin)


def _finish_oauth1(attempt: LinkAttempt, verifier: str) -> XAccount:
    try:
        tokens = gateway.oauth1_finish(
            request_token=attempt.request_token,
            request_token_secret=attempt.request_token_secret,
            verifier=verifier,
        )
        me = gateway.me_for_tokens(oauth1=tokens)
    except XError as error:
        raise LinkError(f"Linking failed: {error.message}") from None
    return xaccount_upsert(
        owner=attempt.user,
        workspace=attempt.workspace or access.current_workspace(attempt.user),
        me=me,
        auth_method=XAccount.AuthMethod.OAUTH1,
        tokens={"oauth1_token": tokens.token, "oauth1_token_secret": tokens.secret},
    )


def link_finish_oauth2(
    *, user, attempt_id: str | None, state: str, code: str, error: str
) -> XAccount:
    attempt = _attempt_for(attempt_id=attempt_id, user=user, method=LinkAttempt.Method.OAUTH2)
    if not state or not constant_time_compare(state, attempt.state):
        raise LinkError("X's answer does not match the linking you started in this browser.", status=403)
    _claim(attempt)
    if error == "access_denied":
        raise LinkCancelled()
    if error:
        raise LinkError(f"X did not authorize the account ({error}). Start again with “Link X account”.")
    if not code:
        raise LinkError("X's answer has no authorization code. Start again with “Link X account”.")
    try:
        tokens = gateway.oauth2_finish(
            redirect_uri=attempt.redirect_uri, code=code, code_verifier=attempt.code_verifier
        )
        me = gateway.me_for_tokens(oauth2=tokens)
    except XError as x_error:
        raise LinkError(f"Linking failed: {x_error.message}") from None
    return xaccount_upsert(
        owner=attempt.user,
        workspace=attempt.workspace or access.current_workspace(attempt.user),
        me=me,
        auth_method=XAccount.AuthMethod.OAUTH2,
        tokens={
            "oauth2_access_token": tokens.access_token,
            "oauth2_refresh_token": tokens.refresh_token,
            "token_expires_at": tokens.expires_at,
            "scopes": tokens.scopes,
        },
    )


_NO_TOKENS = {
    "oauth1_token": "",
    "oauth1_token_secret": "",
    "oauth2_access_token": "",
    "oauth2_refresh_token": "",
    "token_expires_at": None,
    "scopes": "",
}


@transaction.atomic
def xaccount_upsert(*, owner, workspace: Workspace, me: gateway.XUser, auth_method: str, tokens: dict) -> XAccount:
    """Create or refresh the account X says these tokens belong to, in the
    workspace. Re-linking in the same workspace replaces the tokens and makes
    an account that needs reconnecting, or was unlinked (disconnected), active
    again, the same row with all its history; an X account that another
    workspace holds, even disconnected, is refused."""
    account = XAccount.objects.select_for_update().filter(x_user_id=me.id).first()
    if account is not None and account.workspace_id != workspace.pk:
        if account.status == XAccount.Status.DISCONNECTED:
            raise LinkError(
                f"@{me.username} was unlinked from another workspace of this platform, which keeps its "
                "posts as a record. An owner there must delete it for good before you can link it here.",
                status=403,
            )
        raise LinkError(
            f"@{me.username} is already linked in another workspace of this platform. "
            "An admin or owner there must unlink it, then an owner must delete it for good, before you "
            "can link it here.",
            status=403,
        )
    now = timezone.now()
    fields = {
        **_NO_TOKENS,
        **tokens,
        "username": me.username,
        "name": me.name,
        "profile_image_url": me.profile_image_url,
        "auth_method": auth_method,
        "status": XAccount.Status.ACTIVE,
        "status_reason": "",
        "last_verified_at": now,
    }
    was_disconnected = account is not None and account.status == XAccount.Status.DISCONNECTED
    if account is None:
        account = XAccount.objects.create(owner=owner, workspace=workspace, x_user_id=me.id, linked_at=now,
                                          **fields)
        log.info("linked @%s (%s) for user %s", me.username, auth_method, owner.pk)
    else:
        for name, value in fields.items():
            setattr(account, name, value)
        account.save()
        log.info("re-linked @%s (%s) for user %s", me.username, auth_method, owner.pk)
    again = " again, after it was unlinked" if was_disconnected else ""
    audit.record(actor=owner, action=audit.Action.LINKED, obj=account,
                 detail=f"with {account.get_auth_method_display()}{again}")
    return account


# --- keeping accounts usable ---------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    account: XAccount
    ok: bool
    message: str


def xaccount_verify(*, account: XAccount) -> VerifyResult:
    """Ask X who the tokens belong to (``GET /2/users/me``) and record the answer.

    An account that stopped only because its tokens could not be decrypted is
    tried again once they can be (the key was put back): X decides whether they
    still work."""
    if (
        not account.is_active
        and account.status_reason == gateway.undecryptable_tokens_reason(account.username)
        and not account.tokens_undecryptable
    ):
        account.status = XAccount.Status.ACTIVE
        account.status_reason = ""
        account.save(update_fields=["status", "status_reason"])
    try:
        me = gateway.get_me(account)
    except XError as error:
        account.refresh_from_db()
        if error.kind == XErrorKind.NEEDS_REAUTH and account.is_active:
            account.mark_needs_reauth(f"{error.message} Reconnect @{account.username}.")
        return VerifyResult(account, False, f"@{account.username}: {error.message}")
    account.refresh_from_db()
    if me.id != account.x_user_id:
        account.mark_needs_reauth("The tokens now belong to another X account. Reconnect the account.")
        return VerifyResult(account, False, f"@{account.username}: the tokens belong to @{me.username}.")
    account.username = me.username
    account.name = me.name
    account.profile_image_url = me.profile_image_url
    account.last_verified_at = timezone.now()
    account.save(update_fields=["username", "name", "profile_image_url", "last_verified_at"])
    return VerifyResult(account, True, f"@{account.username} is working.")


def _locked_account(account: XAccount, *, by: User, verb: str, undone: str) -> XAccount:
    """The account as it is now, its row held until the transaction ends, once
    the policy lets ``by`` do ``verb`` to it; refused in words otherwise."""
    if not access.allows(by, verb, account):
        raise LinkError(access.NEEDS[verb], status=403)
    locked = XAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise LinkError(f"@{account.username} no longer exists: {undone}.")
    return locked


def xaccount_unlink(*, account: XAccount, by: User) -> str:
    """Disconnect the account: revoke its tokens on X, forget them here, and
    keep everything else (posts, bots, figures) as a read-only record. What
    hangs from it stops (``signals.account_disconnected``: its posts waiting to
    go out are held, its bots paused), all in one transaction with the change.
    Linking the same X account again brings it back (``xaccount_upsert``).

    The account's row stays locked while X is asked, so the tokens revoked are
    the ones stored (a refresh cannot rotate them meanwhile). If X cannot be
    reached or refuses, nothing changes here and the words say why."""
    with transaction.atomic():
        locked = _locked_account(account, by=by, verb=access.MANAGE, undone="nothing was unlinked")
        username = locked.username
        if locked.status == XAccount.Status.DISCONNECTED:
            raise LinkError(f"@{username} is already disconnected: {locked.status_reason}")
        revoked = True
        try:
            gateway.revoke(locked)
        except XError as error:
            # Dead tokens need no revoking; anything else must not leave live
            # tokens on X while the platform forgets them.
            if error.kind == XErrorKind.PERMANENT:
                raise LinkError(f"@{username} was not unlinked, and nothing changed: {error.message}") from None
            if error.kind != XErrorKind.NEEDS_REAUTH:
                answered = f" (it answered {error.status})" if error.status else ""
                raise LinkError(
                    f"@{username} was not unlinked: X could not revoke its tokens just now{answered}. Nothing "
                    "changed: unlink it again in a few minutes."
                ) from None
            revoked = False
        when = f"{timezone.now():%Y-%m-%d %H:%M} UTC"
        reason = (
            f"Unlinked by {by.get_username()} on {when}. Its posts, bots and figures are kept, read-only. "
            f"To bring it back, use “Link X account” and sign in to X as @{username}."
        )
        for name, value in _NO_TOKENS.items():
            setattr(locked, name, value)
        locked.status = XAccount.Status.DISCONNECTED
        locked.status_reason = reason
        locked.rate_limited_until = None
        locked.save(update_fields=[*_NO_TOKENS, "status", "status_reason", "rate_limited_until"])
        tokens = "its tokens were revoked on X and deleted here" if revoked else (
            "X no longer accepted its tokens, so there was nothing to revoke; they were deleted here")
        audit.record(actor=by, action=audit.Action.UNLINKED, obj=locked, detail=tokens)
        answers = signals.account_disconnected.send(
            sender=XAccount, account=locked, reason=f"@{username} was unlinked by {by.get_username()} on {when}."
        )
    log.info("unlinked @%s; it is disconnected", username)
    done = " ".join(answer for _, answer in answers if answer)
    return (
        f"@{username} is disconnected: {tokens}. Its posts, bots and figures are kept, read-only. "
        f"{done + ' ' if done else ''}To bring it back, use “Link X account” and sign in to X as @{username}."
    )


def xaccount_holdings(*, account: XAccount) -> list[tuple[int, str]]:
    """What deleting the account for good would delete with it, as ``(count,
    what)`` pairs that each app counts from its own rows."""
    held: list[tuple[int, str]] = []
    for _, answer in signals.account_holdings.send(sender=XAccount, account=account):
        held.extend(answer or ())
    return held


def describe_holdings(held: list[tuple[int, str]]) -> str:
    return ", ".join(f"{count:,} {what}" for count, what in held) or "nothing else"


def xaccount_delete(*, account: XAccount, by: User) -> str:
    """Delete a disconnected account for good, with everything that hangs
    from it (its posts, bots, slots and budget): the one way the record of an
    account goes. Owners only; an account still linked is refused in words."""
    with transaction.atomic():
        locked = _locked_account(account, by=by, verb=access.OWN, undone="nothing was deleted")
        username = locked.username
        if locked.status != XAccount.Status.DISCONNECTED:
            raise LinkError(
                f"@{username} is still linked ({locked.get_status_display().lower()}): only a disconnected "
                "account can be deleted for good. Unlink it first (which keeps its history), then delete it "
                "for good. Nothing was deleted."
            )
        what = describe_holdings(xaccount_holdings(account=locked))
        # Recorded first: the trail keeps the account's name and id once the row is gone.
        audit.record(actor=by, action=audit.Action.DELETED, obj=locked, detail=f"with {what}")
        locked.delete()
    log.info("deleted @%s for good", username)
    return f"@{username} was deleted for good, with {what}."


def refresh_expiring_tokens() -> int:
    """Refresh OAuth 2.0 tokens that expire soon, so posts never wait on a refresh."""
    soon = timezone.now() + timedelta(seconds=settings.X_TOKEN_REFRESH_MARGIN)
    count = 0
    for account in XAccount.objects.filter(
        auth_method=XAccount.AuthMethod.OAUTH2, status=XAccount.Status.ACTIVE, token_expires_at__lte=soon
    ):
        try:
            gateway.refresh_tokens(account)
        except XError as error:
            log.warning("could not refresh the token of @%s: %s", account.username, error.message)
            continue
        count += 1
    return count


@dataclass(frozen=True)
class Reencrypted:
    rows: int  # rows whose tokens are now encrypted with the newest key
    undecryptable_accounts: list[str]  # handles of accounts left as they were
    undecryptable_attempts: int  # link attempts in progress left as they were


def reencrypt_tokens() -> Reencrypted:
    """Re-encrypt every stored token with the newest key of TOKEN_ENCRYPTION_KEYS.

    Rows that no configured key decrypts are left byte for byte as they are, so
    putting their key back still restores them, and are reported by name."""
    rows = 0
    accounts = []
    attempts = 0
    with transaction.atomic():
        for account in XAccount.objects.select_for_update().order_by("username"):
            if account.tokens_undecryptable:
                accounts.append(f"@{account.username}")
                continue
            account.save(update_fields=list(XAccount.TOKEN_FIELDS))
            rows += 1
        for attempt in LinkAttempt.objects.select_for_update():
            if attempt.tokens_undecryptable:
                attempts += 1
                continue
            attempt.save(update_fields=list(LinkAttempt.TOKEN_FIELDS))
            rows += 1
    return Reencrypted(rows=rows, undecryptable_accounts=accounts, undecryptable_attempts=attempts)


def xaccount_pause(*, account_id: int, until: datetime) -> None:
    """X answered 429 for the account: nothing is sent for it before ``until``.
    A later reset already recorded (a 24-hour limit, say) is never shortened."""
    XAccount.objects.filter(pk=account_id).filter(
        Q(rate_limited_until__isnull=True) | Q(rate_limited_until__lt=until)
    ).update(rate_limited_until=until)


def xaccount_needs_reauth(*, account_id: int, reason: str) -> bool:
    """X refused the account's tokens in a way no refresh cures: a person must
    reconnect it, and the scheduler holds its posts until then. Only an active
    account is marked (one unlinked meanwhile stays disconnected). Returns
    whether it was marked."""
    return XAccount.objects.filter(pk=account_id, status=XAccount.Status.ACTIVE).update(
        status=XAccount.Status.NEEDS_REAUTH, status_reason=reason) == 1

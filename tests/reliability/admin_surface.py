"""The admin surface as a browser finds it, for the admin fuzz and the
workspace isolation test: every URL the project routes, filled in with the
objects there are, and on each page the query parameters its links and GET
forms use and the POST forms it shows; and what both tests do with a page
the same way: send a form as shown, attach a file, read an answer and its
messages, explain a 500, print a line in the test run's output.

Nothing here knows the project's pages by name: the routes come from the URL
resolver and the admin's registry, the parameters and forms from the HTML the
pages render. A page or form added later is fuzzed without a change here.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import pytest
from django.contrib import admin
from django.contrib.admin.views import main as changelist_vars
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from accounts.models import Invitation
from bots.models import ImportJob, PostMedia

# Django's own changelist parameters: every changelist reads them, whether or
# not a link on the page shows them.
CHANGELIST_PARAMS = frozenset(
    getattr(changelist_vars, name) for name in dir(changelist_vars) if name.endswith("_VAR") or name == "ERROR_FLAG"
)
CONVERTER = re.compile(r"<(?:\w+:)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern of the project: its route with ``<converter:name>``
    placeholders, and the model of the admin it belongs to, if any."""

    route: str
    name: str
    model: type[Model] | None

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(match["name"] for match in CONVERTER.finditer(self.route))

    def fill(self, **values: str) -> str:
        """The route as a path, each placeholder replaced by its value, quoted
        as the admin quotes object ids in its links."""
        return "/" + CONVERTER.sub(lambda match: quote(values[match["name"]], safe=""), self.route)


def project_routes(skip: Iterable[str] = ()) -> list[Route]:
    """Every route of the project's URL configuration, with the admin's
    app-list route (a regex of the registered apps) given one route per app.
    Routes whose name is in ``skip`` (or, unnamed, whose route is) are left out."""
    skipped = set(skip)
    by_prefix = {
        f"admin/{model._meta.app_label}/{model._meta.model_name}/": model for model in admin.site._registry
    }
    apps = sorted({model._meta.app_label for model in admin.site._registry})
    routes: list[Route] = []

    def walk(patterns: Iterable[URLPattern | URLResolver], prefix: str, namespace: str,
             model: type[Model] | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                route = prefix + str(pattern.pattern)
                walk(pattern.url_patterns, route, inner, by_prefix.get(route, model))
                continue
            name = namespace + pattern.name if pattern.name else ""
            if isinstance(pattern.pattern, RoutePattern):
                route = prefix + str(pattern.pattern)
            elif pattern.pattern.regex.groupindex.keys() == {"app_label"}:
                routes.extend(Route(f"{prefix}{app}/", name, None) for app in apps if name not in skipped)
                continue
            elif pattern.pattern.regex.groupindex.keys() == {"url"}:
                # The admin's catch-all: any other path under it.
                route = prefix + "<url>"
            else:
                route = prefix + pattern.pattern.regex.pattern
            if (name or route) not in skipped:
                routes.append(Route(route, name, model))

    walk(get_resolver().url_patterns, "", "", None)
    return routes


def route_values(route: Route) -> list[dict[str, str]]:
    """The values a route's placeholders take for the objects in the database:
    every object of the route's model; for the admin's view-on-site route,
    every kind of object the site has (in the admin or not), the first of
    each, or 0 where there is none."""
    names = set(route.placeholders)
    if not names:
        return [{}]
    if names == {"content_type_id", "object_id"}:
        kinds = [kind for kind in ContentType.objects.order_by("pk") if kind.model_class() is not None]
        firsts = [kind.model_class()._default_manager.order_by("pk").values_list("pk", flat=True).first()
                  for kind in kinds]
        return [{"content_type_id": str(kind.pk), "object_id": str(pk if pk is not None else 0)}
                for kind, pk in zip(kinds, firsts)]
    if names == {"url"}:
        return [{"url": "no-such-page/"}]
    if names == {"token"}:
        # Workspace invitations' links: every one there is, and one that is none.
        tokens = list(Invitation.objects.order_by("pk").values_list("token", flat=True))
        return [{"token": token} for token in [*tokens, "no-such-invitation"]]
    if names == {"name"}:
        # Uploaded files: every post's media and import's file, and a name that is none.
        files = [*PostMedia.objects.order_by("pk").values_list("file", flat=True),
                 *ImportJob.objects.order_by("pk").values_list("file", flat=True)]
        return [{"name": name} for name in [*files, "posts/2026/01/no-such-file.png"]]
    if len(names) == 1 and route.model is not None:
        (name,) = names
        return [{name: str(pk)} for pk in route.model._default_manager.order_by("pk").values_list("pk", flat=True)]
    raise AssertionError(f"the fuzz does not know what to put in {route.route!r}: teach route_values")


# --- what a page shows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One control of a form as rendered: ``value`` is what a browser submits
    untouched (None: nothing, as for an unticked box), ``options`` the values
    a select, radio group or checkbox offers."""

    name: str
    kind: str
    value: str | None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    """A POST form: where it posts, its controls, and its submit buttons (a
    browser sends the one pressed)."""

    action: str
    fields: tuple[Field, ...]
    buttons: tuple[tuple[str, str], ...]


@dataclass
class Reading:
    """What one page offers: the query parameters its links and GET forms
    use, by the path they lead to, and its POST forms."""

    params: dict[str, set[str]] = field(default_factory=dict)
    forms: list[Form] = field(default_factory=list)


class _PageParser(HTMLParser):
    def __init__(self, path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.reading = Reading()
        self._form: dict | None = None
        self._select: dict | None = None
        self._textarea: dict | None = None

    def _target(self, href: str) -> tuple[str, list[tuple[str, str]]]:
        parts = urlsplit(urljoin(self.path, href))
        return parts.path, parse_qsl(parts.query, keep_blank_values=True)

    def _note_params(self, path: str, names: Iterable[str]) -> None:
        self.reading.params.setdefault(path, set()).update(names)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "a" and "href" in a and not a["href"].startswith(("#", "javascript:", "mailto:", "http")):
            path, query = self._target(a["href"])
            if query:
                self._note_params(path, (name for name, _ in query))
        elif tag == "form":
            method = a.get("method", "get").lower()
            action = a.get("action") or self.path
            self._form = {"method": method, "action": self._target(action)[0] if method == "get" else
                          urljoin(self.path, action), "fields": [], "buttons": []}
        elif self._form is None:
            return
        elif "disabled" in a:
            # A browser does not send a disabled control.
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image", "button", "reset"):
                if kind == "submit":
                    self._form["buttons"].append((a["name"], a.get("value", "")))
                return
            value: str | None = a.get("value", "")
            if kind in ("checkbox", "radio"):
                value = (a.get("value") or "on") if "checked" in a else None
                self._add_choice(a["name"], kind, a.get("value") or "on", value)
                return
            self._form["fields"].append(Field(a["name"], kind, value))
        elif tag == "button" and a.get("name") and a.get("type", "submit").lower() == "submit":
            self._form["buttons"].append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "options": [], "selected": [], "multiple": "multiple" in a}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select["options"].append(value)
            if "selected" in a:
                self._select["selected"].append(value)
        elif tag == "textarea" and a.get("name"):
            self._textarea = {"name": a["name"], "text": []}

    def _add_choice(self, name: str, kind: str, option: str, value: str | None) -> None:
        fields: list[Field] = self._form["fields"]
        for index, existing in enumerate(fields):
            if existing.name == name and existing.kind == kind == "radio":
                fields[index] = Field(name, kind, existing.value or value, (*existing.options, option))
                return
        fields.append(Field(name, kind, value, (option,)))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._form is not None:
            select = self._select
            chosen = select["selected"] or select["options"][:1]
            kind = "select-multiple" if select["multiple"] else "select"
            value = None if select["multiple"] and not select["selected"] else chosen[0] if chosen else ""
            self._form["fields"].append(Field(select["name"], kind, value, tuple(select["options"])))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            # A browser drops the one newline that follows <textarea>.
            text = "".join(self._textarea["text"]).removeprefix("\n")
            self._form["fields"].append(Field(self._textarea["name"], "textarea", text))
            self._textarea = None
        elif tag == "form" and self._form is not None:
            form = self._form
            if form["method"] == "get":
                self._note_params(form["action"], (f.name for f in form["fields"]))
            else:
                self.reading.forms.append(Form(form["action"], tuple(form["fields"]), tuple(form["buttons"])))
            self._form = None


def read_page(path: str, html: str) -> Reading:
    parser = _PageParser(path)
    parser.feed(html)
    parser.close()
    return parser.reading


def without_query(url: str) -> str:
    return urlsplit(url).path


def submitted(form: Form, *, first_button: bool = False) -> dict[str, str | list[str]]:
    """What a browser sends for the form as shown, with its first button
    pressed or (the fuzz, which picks one itself) none: a name given more
    than once (the rows an action's confirmation lists, boxes of one name
    ticked) as a list of its values."""
    data: dict[str, str | list[str]] = {}
    for f in form.fields:
        if f.kind == "file" or f.value is None:
            continue
        if f.name in data:
            earlier = data[f.name]
            data[f.name] = [*earlier, f.value] if isinstance(earlier, list) else [earlier, f.value]
        else:
            data[f.name] = f.value
    if first_button and form.buttons:
        name, value = form.buttons[0]
        data[name] = value
    return data


@dataclass(frozen=True)
class Upload:
    """A file to attach, made afresh for each request (a request reads it up)."""

    name: str
    content: bytes
    content_type: str

    def file(self) -> SimpleUploadedFile:
        return SimpleUploadedFile(self.name, self.content, content_type=self.content_type)

    def __repr__(self) -> str:
        return f"Upload({self.name[:60]!r}, {len(self.content)} bytes, {self.content_type!r})"


# --- what an answer says --------------------------------------------------------------------


def read_body(response: HttpResponse) -> str:
    """The page as text; a stream read to its end (its errors, written after
    the view returned, come out here)."""
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def messages_of(response: HttpResponse) -> list[tuple[int, str]]:
    """The messages the request added, as (level, text): still queued (a
    redirect carries them), or already shown on the page it answered with."""
    storage = getattr(getattr(response, "wsgi_request", None), "_messages", None)
    if storage is None:
        return []
    shown = storage._loaded_messages if storage.used else []
    return [(m.level, str(m.message)) for m in [*shown, *storage._queued_messages]]


def explain(error: BaseException) -> str:
    """The exception a 500 started from, and where in the code it was raised."""
    chain = [error]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    root = chain[-1]
    frames = "".join(traceback.format_list(traceback.extract_tb(root.__traceback__)[-4:]))
    then = f" (then {type(error).__name__}: {error})" if root is not error else ""
    return f"{type(root).__name__}: {str(root)[:300]}{then}\n{frames}"


# --- the test run ---------------------------------------------------------------------------


def quiet_loggers() -> Callable[[], None]:
    """Django logs every 4xx and 500 with its traceback; the tests make
    thousands and report the 500s themselves. Returns what puts the levels back."""
    loggers = [logging.getLogger(name) for name in ("django.request", "django.security")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)

    def restore() -> None:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)

    return restore


def tell(request: pytest.FixtureRequest, label: str, line: str) -> None:
    """A line in the test run's output, also when output is captured, and
    among the test's user properties (under ``label``) for reports."""
    request.node.user_properties.append((label, line))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\n{line}")

"""Bot templates: text with variables, filled in at each run.

A template is text with ``{name}`` placeholders:

- ``{date}``: the run's date in the bot's time zone, as 2026-11-23; a
  strftime format may follow a colon: ``{date:%d %B}`` gives "23 November";
- ``{weekday}``: the run's weekday, e.g. Monday;
- ``{n}``: the number of this post (1 for the bot's first);
- ``{listname}``: one option, picked at random, from a list defined in the
  bot's lists: one list per line, ``name: option | option | option``.

``{{`` and ``}}`` write literal braces. Anything else in braces is an error
found when the bot is saved, never at run time.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from datetime import datetime

BUILTINS = ("date", "weekday", "n")
LIST_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z", re.IGNORECASE)

HELP_TEXT = (
    "Variables: {date} (2026-11-23, or {date:%d %B} for 23 November), {weekday} (Monday), "
    "{n} (the number of this post: 1, 2, 3…), and {name} for one random option of a list defined "
    "below. Write {{ and }} for literal braces."
)
LISTS_HELP_TEXT = (
    "One list per line: a name, a colon, then options separated by |. "
    "Example: greeting: Hello | Hi | Good morning — then use {greeting} in the template."
)


class TemplateError(Exception):
    """A template or its lists that cannot be used; ``field`` is the Bot
    field at fault ("template" or "template_lists")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_lists(text: str) -> dict[str, tuple[str, ...]]:
    """The lists a person defined, by name, in the order they were given."""
    lists: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, rest = line.partition(":")
        name = name.strip()
        options = tuple(option.strip() for option in rest.split("|"))
        if not colon:
            problem = "no colon; write it as name: option | option, e.g. greeting: Hello | Hi."
        elif not LIST_NAME.match(name):
            problem = f"“{name}” cannot be a list name; use letters, digits and _, starting with a letter."
        elif name in BUILTINS:
            problem = f"“{name}” is a built-in variable; give the list another name."
        elif name in lists:
            problem = f"the list “{name}” is defined twice."
        elif "" in options:
            problem = f"the list “{name}” has an empty option; separate non-empty options with |."
        else:
            lists[name] = options
            continue
        raise TemplateError("template_lists", f"Line {number}: {problem}")
    return lists


@dataclass(frozen=True)
class _Field:
    literal: str
    name: str | None
    spec: str


def _fields(template: str) -> list[_Field]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise TemplateError("template", f"The template's braces do not match ({error}); write {{{{ and }}}} "
                                        "for literal braces.") from None
    fields = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (conversion or not name):
            raise TemplateError("template", "Empty braces or “!” in a variable are not allowed: use "
                                            "{date}, {weekday}, {n} or the name of a list.")
        fields.append(_Field(literal, name, spec or ""))
    return fields


def check_template(template: str, lists: dict[str, tuple[str, ...]]) -> None:
    """Raise TemplateError on anything the renderer could not fill in."""
    if not template.strip():
        raise TemplateError("template", "The template is empty: write the text to post.")
    for field in _fields(template):
        if field.name is None:
            continue
        if field.name not in BUILTINS and field.name not in lists:
            known = ", ".join(f"{{{name}}}" for name in (*BUILTINS, *lists))
            raise TemplateError("template", f"Unknown variable {{{field.name}}}: use one of {known}, or define "
                                            f"a list named {field.name} below.")
        if field.spec and field.name != "date":
            raise TemplateError("template", f"{{{field.name}:{field.spec}}}: only {{date}} takes a format "
                                            f"(e.g. {{date:%d %B}}); write {{{field.name}}}.")


def render(
    template: str, lists: dict[str, tuple[str, ...]], *, when: datetime, n: int, choose: random.Random,
    longest: bool = False,
) -> str:
    """The template filled in for a run at ``when`` (in the bot's time zone).

    ``longest`` picks each list's longest option instead of a random one: the
    worst case, to check the length when the bot is saved."""
    check_template(template, lists)
    out: list[str] = []
    for field in _fields(template):
        out.append(field.literal)
        if field.name is None:
            continue
        if field.name == "date":
            out.append(when.strftime(field.spec or "%Y-%m-%d"))
        elif field.name == "weekday":
            out.append(when.strftime("%A"))
        elif field.name == "n":
            out.append(str(n))
        elif longest:
            out.append(max(lists[field.name], key=len))
        else:
            out.append(choose.choice(lists[field.name]))
    return "".join(out)

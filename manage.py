#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botplatform.settings")
    from django.core.management import execute_from_command_line

    from botplatform.environment import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as error:
        # A bad setting is the operator's to fix: say which, without a traceback.
        sys.exit(f"botplatform is misconfigured: {error}")


if __name__ == "__main__":
    main()

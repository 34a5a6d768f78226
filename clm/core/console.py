"""Helpers every `clm` command shares: a rich console on the command's stream, date arguments, and
the language a command speaks."""

import argparse
import datetime as dt
import os

from django.conf import settings
from django.utils import translation
from rich.console import Console


def console_for(stream) -> Console:
    return Console(file=stream, highlight=False, soft_wrap=True)


def parse_day(text: str) -> dt.date:
    """An argparse type for YYYY-MM-DD dates: a clear message for what is not one."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from None


def cli_language() -> str:
    """The language of the shell (the first of LANGUAGE, LC_ALL, LC_MESSAGES, LANG that CLM speaks,
    e.g. LANGUAGE=en or LANG=zh_CN.UTF-8), else the workspace's (settings.LANGUAGE_CODE)."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for wanted in os.environ.get(name, "").split(":"):
            code = wanted.split(".", 1)[0].replace("_", "-").lower()
            if code in ("", "c", "posix"):
                continue
            try:
                return translation.get_supported_language_variant("zh-hans" if code.startswith("zh") else code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE

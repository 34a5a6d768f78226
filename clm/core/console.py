"""Helpers every `clm` command shares: a rich console on the command's stream, and date arguments."""

import argparse
import datetime as dt

from rich.console import Console


def console_for(stream) -> Console:
    return Console(file=stream, highlight=False, soft_wrap=True)


def parse_day(text: str) -> dt.date:
    """An argparse type for YYYY-MM-DD dates: a clear message for what is not one."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from None

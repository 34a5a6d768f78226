"""clm serve refuses bad options with a clear message, before touching anything."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 0}, "--port 0 is not a TCP port"),
        ({"port": 70000}, "--port 70000 is not a TCP port"),
        ({"threads": 0}, "--threads 0: give at least 1"),
        ({"workers": 0}, "--workers 0: give 1 to 64 processes"),
        ({"workers": 65}, "--workers 65: give 1 to 64 processes"),
    ],
)
def test_it_refuses_bad_options(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("serve", **options)

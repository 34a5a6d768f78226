"""The `money` filter of every template (a builtin, see settings.TEMPLATES): clm.core.money."""

from django import template

from clm.core import money as formatting

register = template.Library()
register.filter("money", formatting.money)

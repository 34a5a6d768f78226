"""Lookups the playbook forms need: a submitted value or a choice list by a name held in a variable."""

from django import template

register = template.Library()


@register.filter
def get(mapping, key):
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


@register.filter
def submitted(values, setting):
    """The value a step form's field ``f-<setting>`` holds."""
    return values.get(f"f-{setting}", "") if hasattr(values, "get") else ""

"""Template helpers of the work pages."""

from django import template

from clm.core.models import Role
from clm.web.forms import staff_choices

register = template.Library()


@register.simple_tag(takes_context=True)
def people_choices(context):
    """The people a task can be given to, read once per request however many rows ask."""
    request = context.get("request")
    if request is None:
        return staff_choices(Role.SALES, Role.CSM)[1:]
    if not hasattr(request, "_work_people"):
        request._work_people = staff_choices(Role.SALES, Role.CSM)[1:]
    return request._work_people

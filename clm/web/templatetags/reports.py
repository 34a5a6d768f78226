"""The tab bar of the dashboards (the overview and the pages of clm.web.report_views)."""

from django import template

register = template.Library()


@register.inclusion_tag("web/reports/_tabs.html")
def report_tabs(page: str, query: str = ""):
    from clm.web.report_views import tabs

    return {"tabs": tabs(), "page": page, "query": query}

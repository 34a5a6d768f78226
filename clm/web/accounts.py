"""The accounts list as a query: search (substring, pinyin in full or by initials, domain, contact,
tag), filters, sort, one page or the whole list as CSV, always within the records the user may see."""

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.commerce.models import Subscription
from clm.core.access import visible_accounts
from clm.customers.models import Account, Contact
from clm.customers.services import fill_search_keys, search_term
from clm.io import export
from clm.reports import services as reports
from clm.reports.charts import service as charts
from clm.reports.kpis.base import Segment, in_tier
from clm.reports.periods import Period
from clm.web.labels import BAND_LABELS
from clm.web.templatetags.workspace import person

PAGE_SIZE = 50
RENEWAL_WINDOWS = (30, 60, 90, 180)

EXPORT_CHUNK = 2000

# sort key -> ORDER BY (the id last, so pages are stable); names by their pinyin key, so that
# Chinese names sort as people look them up (by character code, 张 would come before 李)
SORTS = {
    "name": ("search_key", "name"),
    "health": (F("health_score").asc(nulls_last=True),),
    "warning": ("warning_level",),
    "stage": ("lifecycle_stage",),
    "since": (F("lifecycle_stage_since").asc(nulls_last=True),),
    "arr": (F("arr").asc(nulls_last=True),),
    "renewal": (F("next_renewal").asc(nulls_last=True),),
}


def _next_renewal():
    return Subquery(
        Subscription.objects.live().filter(account=OuterRef("pk"), renewal_date__isnull=False)
        .order_by("renewal_date")
        .values("renewal_date")[:1]
    )


@dataclass
class Criteria:
    """What the list form asks for, already cleaned (see forms.AccountFilterForm)."""

    q: str = ""
    stages: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()
    warnings: tuple[int, ...] = ()  # warning levels (clm.customers.models.WarningLevel)
    owner: int | None = None
    csm: int | None = None
    industry: str = ""
    region: str = ""
    tag: int | None = None
    tier: str = ""  # a value tier's key: the accounts in it now (clm.reports.kpis.base.in_tier)
    renewal_within: int | None = None
    kpi: str = ""  # with kpi_period: only the accounts behind that KPI's number (the dashboard's drill-down)
    kpi_period: str = ""
    kpi_part: str = ""
    figure: str = ""  # with kpi_period and kpi_part: the accounts behind a part of a dashboard figure
    team: int | None = None  # a dashboard's team: accounts whose owner or CSM is in it
    sort: str = "name"
    descending: bool = False


def search(queryset, text: str):
    """Accounts whose name, pinyin key, domain, contacts' names or emails, or tags match `text`."""
    text = text.strip()
    if not text:
        return queryset
    fill_search_keys()  # accounts written in bulk (imports) get their key before the first search
    condition = Q(name__icontains=text) | Q(domain__icontains=text)
    term = search_term(text)
    if term and term.isascii():  # keys hold pinyin and Latin only: a query in characters matches the name
        condition |= Q(search_key__contains=term)
    # Uncorrelated sub-selects: the database finds the matching contacts and tags once, instead of
    # probing them account by account (a third faster on the 10,000-account demo).
    contacts = Contact.objects.filter(Q(name__icontains=text) | Q(email__icontains=text)).values("account_id")
    tags = Account.tags.through.objects.filter(tag__value__icontains=text).values("account_id")
    return queryset.filter(condition | Q(pk__in=contacts) | Q(pk__in=tags))


def filtered(user, criteria: Criteria, today: dt.date | None = None):
    today = today or timezone.localdate()
    accounts = search(visible_accounts(user), criteria.q)
    if criteria.stages:
        accounts = accounts.filter(lifecycle_stage__in=criteria.stages)
    if criteria.bands:
        accounts = accounts.filter(health_band__in=criteria.bands)
    if criteria.warnings:
        accounts = accounts.filter(warning_level__in=criteria.warnings)
    if criteria.owner:
        accounts = accounts.filter(sales_owner_id=criteria.owner)
    if criteria.csm:
        accounts = accounts.filter(csm_id=criteria.csm)
    if criteria.industry:
        accounts = accounts.filter(industry=criteria.industry)
    if criteria.region:
        accounts = accounts.filter(region=criteria.region)
    if criteria.tag:
        accounts = accounts.filter(Exists(Account.tags.through.objects.filter(account=OuterRef("pk"), tag_id=criteria.tag)))
    if criteria.tier:
        accounts = accounts.filter(pk__in=in_tier(criteria.tier))
    if criteria.team:
        accounts = accounts.filter(Segment(team=criteria.team).q())
    if criteria.renewal_within:
        renewing = Subscription.objects.live().filter(
            account=OuterRef("pk"),
            renewal_date__gte=today,
            renewal_date__lte=today + dt.timedelta(days=criteria.renewal_within),
        )
        accounts = accounts.filter(Exists(renewing))
    if criteria.kpi and criteria.kpi_period:
        behind, _result = reports.kpi_accounts(
            user, criteria.kpi, Period.parse(criteria.kpi_period), _segment(criteria), part=criteria.kpi_part
        )
        accounts = accounts.filter(pk__in=behind.values("pk"))
    if criteria.figure and criteria.kpi_period:
        accounts = accounts.filter(pk__in=_behind_figure(user, criteria))
    return accounts


def _segment(criteria: Criteria) -> Segment:
    """The dashboard segment a drill-down came from: the KPI or figure is read over it."""
    return Segment(criteria.industry, criteria.region, criteria.owner, criteria.team, criteria.tag, criteria.tier)


def _behind_figure(user, criteria: Criteria):
    try:
        behind, _figure = charts.accounts(user, criteria.figure, Period.parse(criteria.kpi_period), _segment(criteria),
                                          criteria.kpi_part)
    except ValidationError:
        return Account.objects.none().values("pk")  # a part the figure does not have: nobody is behind it
    return behind.values("pk")


def ordered(accounts, criteria: Criteria):
    if criteria.sort not in SORTS or criteria.sort == "name":
        fill_search_keys()  # accounts written in bulk get their key before they are sorted by it
    if criteria.sort == "arr":
        accounts = accounts.annotate(arr=Subscription.objects.account_arr())
    elif criteria.sort == "renewal":
        accounts = accounts.annotate(next_renewal=_next_renewal())
    order = []
    for term in SORTS.get(criteria.sort, SORTS["name"]):
        if isinstance(term, str):
            order.append(F(term).desc() if criteria.descending else F(term).asc())
        else:
            expression = term.expression
            order.append(expression.desc(nulls_last=True) if criteria.descending else term)
    return accounts.order_by(*order, "-pk" if criteria.descending else "pk")


def page(user, criteria: Criteria, number: int | str = 1):
    """One page of accounts with their owner, CSM, ARR and next renewal; the paginator's count is
    the only query over the whole filtered set besides the page itself."""
    accounts = ordered(filtered(user, criteria), criteria).select_related("sales_owner", "csm")
    paginator = Paginator(accounts.only(
        "name", "domain", "industry", "region", "lifecycle_stage", "lifecycle_stage_since", "health_score",
        "health_band", "warning_level", "sales_owner__username", "sales_owner__first_name", "sales_owner__last_name",
        "csm__username", "csm__first_name", "csm__last_name",
    ), PAGE_SIZE)
    current = paginator.get_page(number)
    current.object_list = _with_arr_and_renewal(list(current.object_list))
    return current


def _with_arr_and_renewal(rows: list[Account]) -> list[Account]:
    """The accounts with `arr_value` and `next_renewal_on`, in two queries for all of them."""
    ids = [a.pk for a in rows]
    arr = dict(Subscription.objects.filter(account_id__in=ids).arr_by_account())
    renewals = {}
    for account_id, day in (
        Subscription.objects.live().filter(account_id__in=ids, renewal_date__isnull=False)
        .order_by("-renewal_date").values_list("account_id", "renewal_date")
    ):
        renewals[account_id] = day  # the earliest wins: ordered newest first
    for account in rows:
        account.arr_value = arr.get(account.pk)
        account.next_renewal_on = renewals.get(account.pk)
    return rows


def export_csv(user, criteria: Criteria) -> Iterator[bytes]:
    """The list as on screen (the same filters and order, every page) as CSV pieces, with the
    columns people decide on; labels and stage and health names in the current language."""
    language = translation.get_language()
    accounts = ordered(filtered(user, criteria), criteria).select_related("sales_owner", "csm")
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        piece = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return piece

    def chunks() -> Iterator[bytes]:
        with translation.override(language):  # the response streams after the view returned
            writer.writerow([
                _("Name"), _("Domain"), _("Industry"), _("Region"), _("Stage"), _("In stage since"), _("Health"),
                _("Health band"), _("ARR"), _("Next renewal"), _("Owner"), _("CSM"),
                _("Early warning"),
            ])
            yield "\ufeff".encode() + flush()
            batch = []
            for account in accounts.iterator(chunk_size=EXPORT_CHUNK):
                batch.append(account)
                if len(batch) == EXPORT_CHUNK:
                    _export_rows(writer, batch)
                    yield flush()
                    batch = []
            _export_rows(writer, batch)
            yield flush()

    return chunks()


def _export_rows(writer, batch: list[Account]) -> None:
    if not batch:
        return
    for a in _with_arr_and_renewal(batch):
        writer.writerow(export.text(value) for value in (
            a.name, a.domain, a.industry, a.region, a.get_lifecycle_stage_display() if a.lifecycle_stage else "",
            a.lifecycle_stage_since, a.health_score, BAND_LABELS.get(a.health_band, ""), a.arr_value,
            a.next_renewal_on, "" if a.sales_owner is None else person(a.sales_owner),
            "" if a.csm is None else person(a.csm), a.get_warning_level_display(),
        ))

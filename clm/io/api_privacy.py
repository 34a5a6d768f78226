"""Personal data requests (PIPL, GDPR), for administrators, mounted at /api/v1/privacy:

    GET  /privacy/contacts/{ref}        everything held about the person (ref: contact id or email)
    POST /privacy/contacts/{ref}/erase  erase it everywhere; answers the rows changed per kind
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Router

from clm.core.models import Role
from clm.io.privacy import PrivacyError, erase_person, export_person

router = Router(tags=["personal data"])


def _require_admin(user) -> None:
    if not user.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only administrators may export or erase a person's data."))


@router.get("/contacts/{ref}", operation_id="export_personal_data")
def export_personal_data(request, ref: str):
    _require_admin(request.user)
    try:
        return export_person(ref)
    except PrivacyError as exc:
        raise Http404(str(exc)) from None


@router.post("/contacts/{ref}/erase", operation_id="erase_personal_data")
def erase_personal_data(request, ref: str):
    _require_admin(request.user)
    try:
        return {"erased": erase_person(ref, actor=request.user, via="api")}
    except PrivacyError as exc:
        raise Http404(str(exc)) from None

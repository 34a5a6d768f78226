"""Rules for text CLM stores, shared by the API, the importer and forms."""

import re

from django.apps import apps
from django.utils import translation
from django.utils.translation import gettext_noop

# Bidirectional embeddings, overrides and isolates reorder what a reader sees ("Trojan Source",
# CVE-2021-42574): a name could display as another customer's. Ordinary right-to-left text needs
# none of them (the Unicode bidi algorithm orders it), so they are refused, not stripped.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
BIDI_MESSAGE = gettext_noop("must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)")
BLANK_MESSAGE = "must not be blank (only spaces)"

# Answered alike whether the record holding the id is one the user may see or not, and naming
# nothing of it: uniqueness per source system is kept, and a hidden record is not described.
EXTERNAL_ID_UNAVAILABLE = gettext_noop(
    "this external id is not available for its source system (external ids are unique per source): "
    "use another, or leave it empty"
)


def gettext(message: str) -> str:
    """Django's gettext, or the message as written while no app is loaded: `clm clv` fits a file
    without django.setup() (clm.cli.WITHOUT_APPS), through the parsers and readers that use this."""
    return translation.gettext(message) if apps.ready else message

"""Rules for text CLM stores, shared by the API, the importer and forms. Pure Python."""

import re

# Bidirectional embeddings, overrides and isolates reorder what a reader sees ("Trojan Source",
# CVE-2021-42574): a name could display as another customer's. Ordinary right-to-left text needs
# none of them (the Unicode bidi algorithm orders it), so they are refused, not stripped.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
BIDI_MESSAGE = "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)"
BLANK_MESSAGE = "must not be blank (only spaces)"

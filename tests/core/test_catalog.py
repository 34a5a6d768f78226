"""The Chinese catalog (one for every app, clm/locale): every string translated, none left fuzzy, and the committed .mo compiled from the .po."""

import gettext
import json
from pathlib import Path

import clm

PO = Path(clm.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def entries(text: str):
    """(context, msgid, msgstr) of each entry of a .po file (singular forms)."""
    for block in text.split("\n\n"):
        fields, current = {}, None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line.startswith('"') and current:
                fields[current] += json.loads(line)
                continue
            key, _, value = line.partition(" ")
            current = key
            fields[key] = json.loads(value)
        if fields.get("msgid"):
            yield fields.get("msgctxt"), fields["msgid"], fields.get("msgstr", fields.get("msgstr[0]"))


def test_every_string_has_a_chinese_translation():
    untranslated = [msgid for _, msgid, msgstr in entries(PO.read_text("utf-8")) if not msgstr]
    assert untranslated == []


def test_no_entry_is_left_fuzzy():
    """makemessages marks a near match "fuzzy"; msgfmt leaves such entries out, so they show in English."""
    assert "#, fuzzy" not in PO.read_text("utf-8").split("\n\n", 1)[1]


def test_the_compiled_catalog_matches_its_source():
    with open(PO.with_suffix(".mo"), "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for context, msgid, msgstr in entries(PO.read_text("utf-8")):
        got = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        assert got == msgstr, f"{msgid!r}: recompile the catalog (django-admin compilemessages)"


def test_the_chinese_ui_addresses_the_user_as_nin_never_ni():
    """The workspace speaks to its users politely (您), in every message alike, never 你."""
    informal = [msgid for _, msgid, msgstr in entries(PO.read_text("utf-8")) if "你" in msgstr]
    assert informal == []

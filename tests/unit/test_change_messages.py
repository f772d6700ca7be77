"""The change messages of the `<prefix>:changes` channel (deploystatus.view.changes): the form a
changed document announces, the form of a position-only advance, and what is refused."""

from __future__ import annotations

import pytest

from deploystatus.view.changes import SAME_DOCUMENT, Change, change_message

DEP = "6f1c1f0e-7a53-4f0e-9d7e-2f1a3c9b8d11"
OWNER = "0b7f3f7e-2b7c-4c55-8a0f-6f0c2d1e9a44"


def test_a_changed_document_announces_id_owner_and_position():
    """The store script's message as given reads back as a changed document."""
    raw = change_message(DEP, OWNER, 42).encode()
    assert raw == f"{DEP} {OWNER} 42".encode()
    assert Change.parse(raw) == Change(DEP, OWNER, 42, document_changed=True)


def test_the_same_suffix_marks_a_position_only_advance():
    """The suffix the script appends when the etag did not change reads as unchanged."""
    raw = f"{change_message(DEP, OWNER, 43)} {SAME_DOCUMENT}".encode()
    assert Change.parse(raw) == Change(DEP, OWNER, 43, document_changed=False)


def test_a_deployment_not_served_announces_an_empty_owner():
    """An empty owner (not created yet, or deleted) parses, in both forms."""
    assert Change.parse(change_message(DEP, "", 7).encode()) == Change(DEP, "", 7)
    unchanged = f"{change_message(DEP, '', 8)} {SAME_DOCUMENT}".encode()
    assert Change.parse(unchanged) == Change(DEP, "", 8, document_changed=False)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        DEP.encode(),
        f"{DEP} {OWNER}".encode(),
        f"{DEP} {OWNER} x".encode(),
        f"{DEP} {OWNER} 4 other".encode(),
        f"{DEP} {OWNER} 4 {SAME_DOCUMENT} extra".encode(),
        b"\xff\xfe \xff 3 4",
    ],
)
def test_anything_else_is_refused(raw: bytes):
    """Messages in neither form give None, never an exception."""
    assert Change.parse(raw) is None

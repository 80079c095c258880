"""The sans-I/O verdict (coffer.freshness.check): what is accounted, what is required, what is
missing and how it is classified."""

from __future__ import annotations

from coffer.freshness.check import DELETED, ROLLBACK, Evidence, Known, Present, verdict

A, B = "a" * 32, "b" * 32


def _snap(writer: str, seq: int, seen: dict[str, int] | None = None) -> Present:
    return Present(f"{writer[0]}{seq:063d}", writer, seq, seen or {})


def test_a_gap_free_listing_with_nothing_else_known_is_fresh() -> None:
    ev = Evidence((_snap(A, 1), _snap(A, 2, {A: 1}), _snap(B, 1, {A: 2})))
    v = verdict(ev)
    assert v.ok and v.missing == () and v.required == {A: 2, B: 1}


def test_the_device_record_knows_a_newer_object_the_listing_lacks_rollback() -> None:
    known = Known(3, "device", "c" * 64, "snapshot", "2026-12-01T10:00:00Z", "phone", "x")
    v = verdict(Evidence((_snap(A, 1), _snap(A, 2)), ((A, known),)))
    assert not v.ok
    (m,) = v.missing
    assert (m.writer, m.first, m.last, m.cause) == (A, 3, 3, ROLLBACK)
    assert "cccccccc" in m.describe() and "phone" in m.describe()
    assert "--accept-rollback" in v.message()


def test_a_hole_that_a_later_object_saw_is_a_deletion_without_a_forget_record() -> None:
    v = verdict(Evidence((_snap(A, 1), _snap(A, 3, {A: 2}))))
    (m,) = v.missing
    assert (m.first, m.last, m.cause) == (2, 2, DELETED)
    assert "removed without a forget record" in v.message()


def test_a_vector_clock_entry_of_another_writer_makes_its_objects_required() -> None:
    v = verdict(Evidence((_snap(B, 1, {A: 2}),)))
    assert [(m.writer, m.first, m.last, m.cause) for m in v.missing] == [(A, 1, 2, DELETED)]


def test_forget_record_entries_account_for_removed_objects_and_themselves() -> None:
    forget = Present("f" * 64, B, 2, {A: 3}, ((A, 1), (A, 2), (B, 1)), "forget")
    v = verdict(Evidence((_snap(A, 3), forget), ((B, Known(2, "device")),)))
    assert v.ok, v.message()


def test_witness_rows_raise_required_for_a_device_with_no_record() -> None:
    row = Known(4, "witness", digest=b"d" * 32, since="2026-12-01T10:00:00Z")
    v = verdict(Evidence((_snap(A, 1), _snap(A, 2)), ((A, row),)))
    assert [(m.first, m.last, m.cause) for m in v.missing] == [(3, 4, ROLLBACK)]
    assert "the witness knows of it" in v.missing[0].describe()


def test_a_witness_row_must_name_the_object_storage_shows_at_that_counter() -> None:
    present = _snap(A, 1)
    good = Known(1, "witness", digest=b"good")
    ok = verdict(Evidence((present,), ((A, good),), digest=lambda oid: b"good"))
    assert ok.ok
    bad = verdict(Evidence((present,), ((A, good),), digest=lambda oid: b"other"))
    assert not bad.ok and "not the one the witness was told about" in bad.message()


def test_accepted_ranges_are_no_longer_missing() -> None:
    ev = Evidence((_snap(A, 1),), ((A, Known(5, "device")),), accepted={A: [(2, 4)]})
    assert [(m.first, m.last) for m in verdict(ev).missing] == [(5, 5)]
    ev = Evidence((_snap(A, 1),), ((A, Known(5, "device")),), accepted={A: [(2, 5)]})
    assert verdict(ev).ok


def test_as_many_damaged_objects_as_missing_counters_do_not_refuse() -> None:
    ev = Evidence((_snap(A, 1), _snap(B, 1, {A: 2})), damaged=1)
    v = verdict(ev)
    assert v.missing and v.explained_by_damage and v.ok
    v = verdict(Evidence((_snap(A, 1), _snap(B, 1, {A: 3})), damaged=1))
    assert not v.ok


def test_runs_are_reported_as_ranges() -> None:
    ev = Evidence((_snap(A, 2), _snap(A, 5), _snap(A, 9)))
    runs = [(m.first, m.last) for m in verdict(ev).missing]
    assert runs == [(1, 1), (3, 4), (6, 8)]

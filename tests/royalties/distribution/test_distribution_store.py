"""The stored form of distribution lines: columns as blocks, exactly round-tripped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airex.royalties import _distribution_store as store

INT64 = 2**63 - 1


@given(st.lists(st.integers(min_value=-INT64 - 1, max_value=INT64), max_size=50))
def test_integer_columns_round_trip(values: list[int]) -> None:
    """Any 64-bit integers come back as stored, in order."""
    assert list(store.decode_column(store.encode_column(values))) == values


def test_columns_are_split_into_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A column longer than a block is stored as several blocks and read back whole."""
    monkeypatch.setattr(store, "BLOCK_SIZE", 4)
    blocks = store.encode_column(range(10))
    assert len(blocks) == 3
    assert list(store.decode_column(blocks)) == list(range(10))


@given(
    st.lists(
        st.one_of(st.just(-1), st.integers(min_value=0, max_value=10**30)), min_size=1, max_size=30
    )
)
def test_units_beyond_64_bits_round_trip(units: list[int]) -> None:
    """Units of any size (and -1, not shown) come back exactly."""
    assert list(store.decode_units(store.encode_units(units)) or []) == units


def test_no_units_column_reads_as_none() -> None:
    """A distribution stored without a units column has no units."""
    assert store.decode_units({}) is None


@given(
    st.lists(
        st.lists(
            st.text(
                alphabet=st.characters(exclude_characters="\x1e\x1f", exclude_categories=("Cs",)),
                min_size=1,
            ),
            min_size=1,
            max_size=3,
        ),
        max_size=20,
    )
)
def test_work_identifiers_round_trip(works: list[list[str]]) -> None:
    """Each work's identifiers come back as stored (the separators cannot occur in XML text)."""
    assert store.decode_texts(store.encode_texts(works)) == [tuple(ids) for ids in works]

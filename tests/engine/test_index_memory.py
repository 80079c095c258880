"""The in-memory index: same answers as a plain dict model, and memory that stays small per blob."""

from __future__ import annotations

import os
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.engine.index import Index, Location
from coffer.engine.pack import PackEntry

_ids = st.binary(min_size=32, max_size=32)


def _entry(bid: bytes, n: int) -> PackEntry:
    return PackEntry(bid, n % 2, n % 3, n * 100, 50 + n, 60 + n)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_ids, max_size=40), max_size=12), st.lists(_ids, max_size=20))
def test_index_answers_like_a_dict_of_first_locations(
    packs: list[list[bytes]], probes: list[bytes]
) -> None:
    Index._MERGE_MIN = 7  # merge often, so both the dict and the sorted arrays are exercised
    index, model = Index(), {}
    shared_prefix = b"\x00" * 8  # IDs sharing their first 8 bytes must still be told apart
    packs = [*packs, [shared_prefix + os.urandom(24) for _ in range(3)]]
    for p, ids in enumerate(packs):
        pack_id = f"{p:064x}"
        entries = [_entry(bid, n) for n, bid in enumerate(ids)]
        index.add_pack(pack_id, entries)
        index.add_pack(pack_id, entries)  # adding a pack twice changes nothing
        for e in entries:
            model.setdefault(
                e.blob_id,
                Location(pack_id, e.type, e.compression, e.offset, e.length, e.raw_length),
            )
    Index._MERGE_MIN = 4096
    assert len(index) == len(model)
    for bid in [*model, *probes]:
        assert index.get(bid) == model.get(bid)
        assert (bid in index) == (bid in model)
    assert sorted(index.blob_ids()) == sorted(model)
    assert index.packs == {f"{p:064x}" for p in range(len(packs))}
    listed = dict(index.pack_entries())
    for p, ids in enumerate(packs):
        assert [e.blob_id for e in listed[f"{p:064x}"]] == ids


def test_memory_per_blob_is_small() -> None:
    n = 50_000
    entries = [_entry(os.urandom(32), i) for i in range(n)]
    tracemalloc.start()
    index = Index()
    for p in range(0, n, 4096):
        index.add_pack(f"{p:064x}", entries[p : p + 4096])
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(index) == n
    assert current / n < 100, current / n  # a dict of Location tuples costs ~250 bytes a blob


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), _ids),
        st.tuples(st.just("extend"), st.lists(_ids, max_size=4)),
        st.tuples(st.just("insert"), st.integers(-5, 5), _ids),
        st.tuples(st.just("del"), st.integers(-5, 5)),
        st.tuples(st.just("slice"), st.integers(-5, 5), st.integers(-5, 5)),
    ),
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(_ops)
def test_blob_list_behaves_like_a_list_of_ids(ops: list[tuple[object, ...]]) -> None:
    from coffer.engine.snapshot import BlobList

    blobs, model = BlobList(), []
    for op in ops:
        if op[0] == "append":
            blobs.append(op[1])  # type: ignore[arg-type]
            model.append(op[1])
        elif op[0] == "extend":
            blobs += op[1]  # type: ignore[operator]
            model += op[1]  # type: ignore[operator]
        elif op[0] == "insert":
            blobs.insert(op[1], op[2])  # type: ignore[arg-type]
            model.insert(op[1], op[2])  # type: ignore[arg-type]
        elif op[0] == "del" and model:
            i = op[1] % len(model)  # type: ignore[operator]
            del blobs[i]
            del model[i]
        elif op[0] == "slice":
            assert list(blobs[op[1] : op[2]]) == model[op[1] : op[2]]  # type: ignore[misc]
        assert blobs == model and len(blobs) == len(model)
    assert blobs.joined() == b"".join(model)  # type: ignore[arg-type]
    assert BlobList(blobs.joined()) == blobs


def test_a_decoded_tree_keeps_a_big_blob_list_in_one_buffer() -> None:
    from coffer.engine.snapshot import BlobList, Node
    from coffer.engine.tree import decode_tree, encode_tree

    ids = [os.urandom(32) for _ in range(20_000)]
    data = encode_tree([Node(name="db", type="file", content=ids)])
    tracemalloc.start()
    (node,) = decode_tree(data)
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(node.content, BlobList) and list(node.content) == ids
    assert current < 3 * len(data), current  # ~the stream's own size, not 20,000 objects

"""Scores read from whole posting blocks are Whoosh's own scores, document for document."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh import fields, index, query

from archiver.search.whoosh.postings import SegmentPostings, leaf_scores

WORDS = ["thank", "you", "officers", "road", "closed", "police", "safe", "stay", "missing",
         "person", "great", "job"]


def _build(folder: Path) -> index.Index:
    schema = fields.Schema(key=fields.ID(stored=True, unique=True), text=fields.TEXT(),
                           author=fields.TEXT(), tag=fields.ID())
    ix = index.create_in(folder, schema)
    rng = random.Random(7)
    for batch in range(4):  # several segments, and deletions in the older ones
        with ix.writer() as writer:
            for n in range(300):
                words = [rng.choice(WORDS) for _ in range(rng.randint(1, 25))]
                writer.add_document(key=f"{batch}-{n}", text=" ".join(words),
                                    author=rng.choice(["thank you", "road crew", "officers"]),
                                    tag=rng.choice(["a", "b"]))
        if batch:
            with ix.writer() as writer:
                for n in rng.sample(range(300), 40):
                    writer.delete_by_term("key", f"{batch - 1}-{n}")
    return ix


QUERIES = [
    query.Term("text", "police"),
    query.Term("text", "absent"),
    query.Or([query.Term("text", "thank", boost=2.0), query.Term("author", "thank", boost=1.5)]),
    query.And([query.Or([query.Term("text", "thank", boost=2.0),
                         query.Term("author", "thank", boost=1.5)]),
               query.Or([query.Term("text", "officers", boost=2.0),
                         query.Term("author", "officers", boost=1.5)])]),
    query.Phrase("text", ["thank", "you"], slop=1, boost=2.0),
    query.Phrase("text", ["stay", "safe", "police"], slop=2),
    query.Or([query.Phrase("text", ["road", "closed"], slop=1, boost=2.0),
              query.Phrase("author", ["road", "crew"], slop=1, boost=1.5)]),
]


@pytest.mark.parametrize("q", QUERIES, ids=repr)
def test_block_scores_are_whooshs_scores(tmp_path: Path, q: query.Query) -> None:
    ix = _build(tmp_path)
    with ix.searcher() as searcher:
        theirs = {hit.docnum: hit.score for hit in searcher.search(q, limit=None)}
        ours: dict[int, float] = {}
        segments: list[SegmentPostings] = []
        for sub, offset in searcher.leaf_searchers():
            segment = SegmentPostings()
            segments.append(segment)
            for _ in range(2):  # the second reads what the first kept
                scored = leaf_scores(q, sub, searcher, segment)
                assert scored is not None
                ours.update({offset + docnum: score for docnum, score in scored.items()})
        assert len(segments) > 1
        assert ours.keys() == theirs.keys()
        for docnum, score in theirs.items():
            assert ours[docnum] == pytest.approx(score, rel=1e-9)


def test_other_query_shapes_are_left_to_whoosh(tmp_path: Path) -> None:
    ix = _build(tmp_path)
    with ix.searcher() as searcher:
        sub, _ = searcher.leaf_searchers()[0]
        for q in (query.Prefix("text", "pol"), query.Not(query.Term("text", "police")),
                  query.Or([query.Term("text", "police"), query.Prefix("text", "saf")])):
            assert leaf_scores(q, sub, searcher, SegmentPostings()) is None

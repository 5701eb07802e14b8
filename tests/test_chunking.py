"""Chunking: section boundaries, exact offsets, whole short sections, content-hash ids."""

from __future__ import annotations

from zhibu_qa.indexing.chunking import (
    ChunkerConfig,
    chunk_article,
    chunk_catalogue,
    locate_pieces,
    naive_chunks,
)
from zhibu_qa.text import count_tokens


def test_chunks_never_cross_sections_and_map_to_the_source(parsed_issue, corpus_text):
    chunks, metas = chunk_catalogue(parsed_issue.articles, {parsed_issue.issue.id: parsed_issue.issue})
    arts = {a.id: a for a in parsed_issue.articles}
    for ch, meta in zip(chunks, metas, strict=True):
        sec = arts[ch.article_id].sections[ch.section_index]
        assert meta.section == sec.heading
        # every chunk character comes from that section's paragraphs
        lo = min(p.char_start for p in sec.paragraphs)
        hi = max(p.char_end for p in sec.paragraphs)
        assert lo <= ch.char_start and ch.char_end <= hi
        for seg in ch.segments:
            assert corpus_text[seg.source_start: seg.source_start + seg.length] == ch.text[seg.text_start: seg.text_start + seg.length]
        assert ch.n_tokens <= 256
        assert ch.embed_text.endswith(ch.text) and ch.embed_text.startswith(arts[ch.article_id].title)


def test_short_sections_stay_whole(parsed_issue):
    cfg = ChunkerConfig(256, 32)
    for art in parsed_issue.articles:
        chunks = chunk_article(art, cfg)
        for idx, sec in enumerate(art.sections):
            text = "\n".join(p.text for p in sec.paragraphs)
            if count_tokens(text) <= 256:
                assert [c.text for c in chunks if c.section_index == idx] == [text]


def test_ids_are_content_hashes(parsed_issue):
    art = parsed_issue.articles[12]
    assert [c.id for c in chunk_article(art)] == [c.id for c in chunk_article(art)]
    assert len({c.id for c in chunk_article(art)}) == len(chunk_article(art))


def test_smaller_chunks_split_long_sections(parsed_issue):
    art = next(a for a in parsed_issue.articles if a.title.startswith("念好"))
    small = chunk_article(art, ChunkerConfig(64, 8))
    assert len(small) > len(chunk_article(art, ChunkerConfig(256, 32)))
    assert max(c.n_tokens for c in small) <= 64


def test_locate_pieces_handles_overlap():
    assert locate_pieces("甲乙丙丁", ["甲乙", "乙丙丁"]) == [(0, 2), (1, 4)]


def test_naive_baseline_windows(parsed_issue, corpus_text):
    chunks, metas = naive_chunks(corpus_text, parsed_issue.issue, parsed_issue.articles)
    assert all(len(c.text) <= 500 for c in chunks)
    for c in chunks:
        assert corpus_text[c.char_start: c.char_end] == c.text
        assert c.char_start % 500 == 0
    assert any(m.article_title == "刊物信息" for m in metas)

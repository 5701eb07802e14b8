"""The on-disk index: round trip, manifest checks, incremental and atomic builds, the user dictionary."""

import hashlib
import json
import os

import numpy as np
import pytest

from zhibu_qa.errors import ConfigError, IndexMismatchError, IndexMissingError
from zhibu_qa.indexing.embedders import HashingEmbedder
from zhibu_qa.indexing.store import (
    MANIFEST_FILE,
    STORE_DIR,
    USERDICT_FILE,
    VECTORS_FILE,
    build_index,
    load_index,
    read_manifest,
)
from zhibu_qa.indexing.userdict import read_user_dict
from zhibu_qa.locking import SWAP_LOCK_FILE, WRITER_LOCK_FILE
from zhibu_qa.text import tokenize
from zhibu_qa.types import Chunk, ChunkMeta, Segment

CHUNKER = {"chunk_size": 256, "chunk_overlap": 32}
SOURCES = {"corpus/a.txt": "ab" * 32}


def make_chunk(text, article="a1", issue="i1", start=0, title="标题"):
    cid = hashlib.sha256(f"{article}\n{text}".encode()).hexdigest()[:16]
    return Chunk(id=cid, article_id=article, issue_id=issue, section_index=0, text=text,
                 embed_text=f"{title}\n{text}", segments=(Segment(0, start, len(text)),), n_tokens=len(text))


def make_meta(title="标题", column="基层治理"):
    return ChunkMeta(article_title=title, column=column, section=None, authors=("张三", "李四"), issue="2024年第9期")


TEXTS = [
    "对此，街道启动了“吹哨报到”机制，各部门闻哨而动。",
    "破解“小马拉大车”问题，为基层减负赋能。",
    "全面推进“两企三新”党建工作，扩大组织覆盖。",
    "严格落实“三会一课”制度，提升组织生活质量。",
    "社区网格员每天走访居民，收集社情民意。",
]


def corpus(texts=TEXTS):
    chunks = [make_chunk(t, article=f"a{i}", start=i * 100) for i, t in enumerate(texts)]
    return chunks, [make_meta() for _ in chunks]


class CountingEmbedder(HashingEmbedder):
    """Hashing vectors; counts the passages it embeds and can fail on its Nth batch of 2."""

    def __init__(self, dim=64, fail_on_batch=None):
        super().__init__(dim)
        self.embedded = 0
        self.fail_on_batch = fail_on_batch

    def _encode(self, texts, *, show_progress):
        out = []
        for n, start in enumerate(range(0, len(texts), 2), start=1):
            if n == self.fail_on_batch:
                raise RuntimeError(f"simulated crash on batch {n}")
            out.append(super()._encode(texts[start:start + 2], show_progress=show_progress))
            self.embedded += len(texts[start:start + 2])
        return np.concatenate(out)


def _names(index_dir):
    """Entries of an index dir apart from the lock files."""
    return sorted(p.name for p in index_dir.iterdir() if p.name not in (WRITER_LOCK_FILE, SWAP_LOCK_FILE))


def build(index_dir, chunks, metas, embedder=None, **kw):
    kw.setdefault("chunker", CHUNKER)
    kw.setdefault("sources", SOURCES)
    return build_index(index_dir, chunks, metas, embedder or CountingEmbedder(), **kw)


def test_index_round_trips_chunks_metas_vectors_and_manifest(tmp_path):
    chunks, metas = corpus()
    emb = CountingEmbedder()
    stats = build(tmp_path, chunks, metas, emb)
    assert (stats.n_chunks, stats.n_embedded, stats.n_reused, stats.n_removed) == (5, 5, 0, 0)
    index = load_index(tmp_path, model_id=emb.model_id, chunker=dict(CHUNKER))
    assert index.chunks == tuple(chunks) and index.metas == tuple(metas)
    np.testing.assert_allclose(index.vectors, emb.embed_passages([c.embed_text for c in chunks]), rtol=1e-6)
    m = index.manifest
    assert (m.model_id, m.dim, m.n_chunks, m.n_articles, m.n_issues) == ("hashing-64", 64, 5, 5, 1)
    assert m.chunker == CHUNKER and m.sources == SOURCES and m.normalized and m.vector_index == "flat"
    assert {"faiss-cpu", "bm25s", "jieba"} <= set(m.versions)
    assert read_manifest(tmp_path) == m
    assert index.faiss.ntotal == 5


def test_index_lives_in_its_own_subdirectory_and_leaves_siblings_alone(tmp_path):
    (tmp_path / "catalogue.json").write_text("{}", encoding="utf-8")
    chunks, metas = corpus()
    build(tmp_path, chunks, metas)
    build(tmp_path, chunks[:2], metas[:2], rebuild=True)
    assert (tmp_path / "catalogue.json").read_text(encoding="utf-8") == "{}"
    assert (tmp_path / STORE_DIR / MANIFEST_FILE).is_file()
    assert _names(tmp_path) == ["catalogue.json", STORE_DIR]


def test_missing_index_tells_the_user_to_run_index(tmp_path):
    assert read_manifest(tmp_path) is None
    with pytest.raises(IndexMissingError, match="zhibu-qa index"):
        load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER)


def test_other_model_is_a_mismatch_naming_both_models(tmp_path):
    build(tmp_path, *corpus())
    with pytest.raises(IndexMismatchError, match="--rebuild") as err:
        load_index(tmp_path, model_id="m3e-small@12345678", chunker=CHUNKER)
    assert "hashing-64" in str(err.value) and "m3e-small@12345678" in str(err.value)


def test_other_chunker_settings_or_dimension_are_a_mismatch(tmp_path):
    build(tmp_path, *corpus())
    with pytest.raises(IndexMismatchError, match="chunk_size: index=256 current=512"):
        load_index(tmp_path, model_id="hashing-64", chunker={**CHUNKER, "chunk_size": 512})
    with pytest.raises(IndexMismatchError, match="64-dim.*128-dim"):
        load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER, dim=128)


def test_corrupt_index_files_are_reported_as_needing_a_rebuild(tmp_path):
    build(tmp_path, *corpus())
    np.save(tmp_path / STORE_DIR / VECTORS_FILE, np.zeros((2, 64), dtype=np.float32))
    with pytest.raises(IndexMismatchError, match="corrupt"):
        load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER)


def test_incremental_build_embeds_only_new_chunks_and_drops_removed_ones(tmp_path):
    chunks, metas = corpus()
    build(tmp_path, chunks, metas)
    emb = CountingEmbedder()
    stats = build(tmp_path, chunks, metas, emb)
    assert (emb.embedded, stats.n_embedded, stats.n_reused, stats.n_removed) == (0, 0, 5, 0)

    new = [make_chunk("新增的第一段：党员志愿服务队。", article="n1"), make_chunk("新增的第二段：楼门长制度。", article="n2")]
    kept = chunks[1:]
    emb = CountingEmbedder()
    stats = build(tmp_path, kept + new, [make_meta() for _ in kept + new], emb)
    assert (emb.embedded, stats.n_embedded, stats.n_reused, stats.n_removed) == (2, 2, 4, 1)
    index = load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER)
    ids = [c.id for c in index.chunks]
    assert chunks[0].id not in ids and ids == [c.id for c in kept + new]
    np.testing.assert_allclose(index.vectors[-1], emb.embed_passages([new[1].embed_text])[0], rtol=1e-6)


def test_rebuild_or_another_model_embeds_everything_again(tmp_path):
    chunks, metas = corpus()
    build(tmp_path, chunks, metas)
    emb = CountingEmbedder()
    build(tmp_path, chunks, metas, emb, rebuild=True)
    assert emb.embedded == 5
    other = CountingEmbedder(dim=32)
    stats = build(tmp_path, chunks, metas, other)
    assert other.embedded == 5 and stats.n_reused == 0
    assert read_manifest(tmp_path).model_id == "hashing-32"


def test_changed_embed_text_is_embedded_again(tmp_path):
    chunks, metas = corpus()
    build(tmp_path, chunks, metas)
    retitled = [make_chunk(TEXTS[0], article="a0", title="新标题")] + chunks[1:]
    emb = CountingEmbedder()
    build(tmp_path, retitled, metas, emb)
    assert emb.embedded == 1


def test_crash_during_build_leaves_the_previous_index_intact(tmp_path):
    chunks, metas = corpus()
    build(tmp_path, chunks[:3], metas[:3])
    before = (tmp_path / STORE_DIR / MANIFEST_FILE).read_text(encoding="utf-8")
    more = [make_chunk(f"第{i}段新的内容，讲述社区治理的经验。", article=f"n{i}") for i in range(6)]
    with pytest.raises(RuntimeError, match="batch 2"):
        build(tmp_path, chunks + more, [make_meta() for _ in chunks + more], CountingEmbedder(fail_on_batch=2))
    assert (tmp_path / STORE_DIR / MANIFEST_FILE).read_text(encoding="utf-8") == before
    index = load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER)
    assert [c.id for c in index.chunks] == [c.id for c in chunks[:3]]
    assert _names(tmp_path) == [STORE_DIR]  # no temp directory left behind


def test_crash_between_the_swap_renames_is_repaired_on_load(tmp_path):
    chunks, metas = corpus()
    build(tmp_path, chunks, metas)
    # what a build killed after moving the old index aside (and before moving the new one in) leaves
    os.rename(tmp_path / STORE_DIR, tmp_path / f".{STORE_DIR}.old-999999-1")
    index = load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER)
    assert len(index) == 5 and (tmp_path / STORE_DIR).is_dir()


def test_temp_directories_of_dead_builds_are_cleaned_up(tmp_path):
    stale = tmp_path / f".{STORE_DIR}.tmp-999999-abc"
    stale.mkdir()
    (stale / VECTORS_FILE).write_bytes(b"half written")
    build(tmp_path, *corpus())
    assert not stale.exists()


def test_hnsw_index_is_saved_and_searchable(tmp_path):
    chunks, metas = corpus()
    emb = CountingEmbedder()
    build(tmp_path, chunks, metas, emb, vector_index="hnsw")
    index = load_index(tmp_path, model_id=emb.model_id, chunker=CHUNKER)
    assert index.manifest.vector_index == "hnsw"
    _, ids = index.faiss.search(emb.embed_queries([chunks[3].embed_text]), 1)
    assert ids[0][0] == 3


def test_bad_arguments_are_refused(tmp_path):
    chunks, metas = corpus()
    with pytest.raises(ConfigError, match="flat, hnsw"):
        build(tmp_path, chunks, metas, vector_index="ivf")
    with pytest.raises(IndexMissingError, match="nothing to index"):
        build(tmp_path, [], [])
    with pytest.raises(ValueError, match="metas"):
        build(tmp_path, chunks, metas[:2])


def test_merged_user_dictionary_keeps_terms_whole_for_bm25(tmp_path):
    # quoted terms are learned (2-8 characters); "小马拉大车" comes from a title
    chunks, metas = corpus([*TEXTS, "“吹哨报到”“两企三新”“三会一课”再次出现，“偶然一次”只出现一次，“这是一个超过八个字的长引语”。"])
    metas[1] = make_meta(title="“小马拉大车”有解了")
    build(tmp_path, chunks, metas, user_terms=["精网微格", "滨河巡逻岗"])
    terms = read_user_dict(tmp_path / STORE_DIR / USERDICT_FILE)
    assert terms[:2] == ["精网微格", "滨河巡逻岗"]
    assert {"吹哨报到", "小马拉大车", "两企三新", "三会一课", "有解了"} <= set(terms)
    assert "偶然一次" in terms and "这是一个超过八个字的长引语" not in terms
    load_index(tmp_path, model_id="hashing-64", chunker=CHUNKER)
    assert "吹哨报到" in tokenize("对此，街道启动了“吹哨报到”机制")
    assert "滨河巡逻岗" in tokenize("设立滨河巡逻岗")
    vocab = json.loads((tmp_path / STORE_DIR / "bm25" / "vocab.index.json").read_text(encoding="utf-8"))
    assert "两企三新" in vocab

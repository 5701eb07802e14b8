"""Dense similarity of a question and single sentences, under the retrieval embedder.

Chunk-level dense scores say an article is about the question's topic; the cosine of the question
and the few sentences the selector chose says whether one of them speaks to what is asked. The
answerability model reads it (only for the best TOP sentences, so an answer costs a few short
embeddings). Vectors are cached by text: evaluation runs and follow-ups meet the same sentences.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

import numpy as np

CACHE_SIZE = 8192


class SentenceSimilarity:
    """Cosines of a question vector with sentence vectors (both unit length)."""

    def __init__(self, embedder_of: Callable[[], object], cache_size: int = CACHE_SIZE):
        self._embedder_of = embedder_of  # late: the model loads on first use
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.cache_size = cache_size

    def _vectors(self, kind: str, texts: Sequence[str]) -> list[np.ndarray]:
        found = {t: self._cache[(kind, t)] for t in texts if (kind, t) in self._cache}
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            emb = self._embedder_of()
            # a symmetric model encodes sentences as queries: a few short texts run fastest on
            # the embedder's one-thread query path
            as_query = kind == "q" or getattr(emb, "query_prefix", "") == getattr(emb, "passage_prefix", "")
            vectors = emb.embed_queries(todo) if as_query else emb.embed_passages(todo)
            for t, v in zip(todo, vectors, strict=True):
                found[t] = self._cache[(kind, t)] = v
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return [found[t] for t in texts]

    def prefetch(self, questions: Iterable[str], sentences: Iterable[str]) -> None:
        """Embed many texts in large batches ahead of `__call__` (training; needs a large cache)."""
        self._vectors("q", list(questions))
        self._vectors("s", list(sentences))

    def __call__(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """Example: SentenceSimilarity(lambda: HashingEmbedder(64))("甲乙", ["甲乙"])[0] > 0.99"""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        (q,) = self._vectors("q", [question])
        return np.asarray([float(v @ q) for v in self._vectors("s", list(sentences))], dtype=np.float32)

"""Indexing: articles -> chunks -> vectors and BM25 in one store directory (or PostgreSQL).

Chunking; the `Embedder` backends (torch, ONNX) and the offline model files; the `VectorIndex`
backends (FAISS flat/HNSW, pgvector); the store with its manifest and checksums; the learned jieba
dictionary; and lookups over what the index holds. Retrieval over it lives in `retrieval`.
"""

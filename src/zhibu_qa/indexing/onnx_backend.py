"""ONNX Runtime embedder for a local sentence-transformers model directory, and its one-time export.

Owns exporting the BERT encoder to `onnx/model.onnx` (fp32, torch's dynamo exporter) and
`onnx/model_qint8_rr.onnx` (onnxruntime's BERT graph fusions, then dynamic quantization with 7-bit
int8 weights per output channel) and `onnx/probe.json` (fp32 vectors of a few probe sentences),
under a lock with atomic renames, recorded in the model manifest; and `OnnxEmbedder`, which runs
them with the `tokenizers` tokenizer and mean/CLS pooling in numpy, so queries need neither torch
nor transformers, and checks the int8 file against the probe vectors on the CPU it runs on.
Exports read local files only.
Leaves out the torch backends (`embedders`) and fetching the model (`models`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zhibu_qa.errors import ConfigError, ModelError
from zhibu_qa.indexing.embedders import QUERY_THREADS, Embedder, l2_normalize, local_model_id

log = logging.getLogger(__name__)

ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_qint8_rr.onnx"}
PROBE_FILE = "onnx/probe.json"
ANSWER_THREADS = 2  # intra-op threads for the 2-8 short texts an answer embeds
RECENT_QUERIES = 64  # single-query vectors kept
# model_id tags: the int8 file's vectors changed with its recipe (uint8 per-tensor weights, then full
# 8-bit per-channel weights before), so an index built from an older file is rebuilt, not mixed
_ID_TAGS = {"onnx": "onnx", "onnx-int8": "onnx-qint8rr"}
PROBE_TEXTS = ("推动基层党组织全面进步、全面过硬，以高质量党建引领基层治理现代化。", "社区党委书记介绍了为民服务的做法",
               "2024年9月")
MIN_PROBE_COSINE = 0.98  # int8 against fp32 on this CPU; the 8-bit recipe gave 0.65-0.72 on AVX2 without VNNI
LOCK_FILE = ".zhibu-onnx.lock"
OPSET = 18  # the dynamo exporter's default opset in torch 2.13
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_HINT = "运行 `zhibu-qa fetch-model` 导出 ONNX 模型，或设置 embedding_backend = \"torch\""


@contextlib.contextmanager
def _locked(model_dir: Path):
    """An exclusive lock on the model directory, so concurrent first uses export once."""
    try:
        fh = open(model_dir / LOCK_FILE, "a")  # noqa: SIM115 - held for the with-block
    except OSError as exc:
        raise ModelError(f"cannot lock {model_dir} to export the ONNX model ({exc}); {_HINT}") from exc
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _export_fp32(model_dir: Path, target: Path, *, dynamo: bool = True) -> None:
    """torch -> ONNX with dynamic batch and sequence axes; eager attention exports a plain graph
    (`dynamo=False`: the TorchScript exporter, compared in benchmarks/onnx_graphs.py)."""
    import warnings

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    # batch 2 x 16 tokens: sizes 0 and 1 would be specialised by the exporter
    dummy = tuple(torch.ones((2, 16), dtype=torch.int64) if n != "token_type_ids"
                  else torch.zeros((2, 16), dtype=torch.int64) for n in _INPUTS)
    axes = {n: {0: "batch", 1: "sequence"} for n in (*_INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(None):
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHiddenState(model), dummy, str(target), input_names=list(_INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=dynamo, **({"external_data": False} if dynamo else {}))


def _quantize(fp32: Path, target: Path) -> None:
    """Fuse LayerNorm/GELU (onnxruntime's BERT optimizer), then int8 weights per channel in 7 bits.

    Int8 weights run the u8s8 kernels: on AVX-512 VNNI cores 482 shipped chunks took 17-21 CPU-s
    against 33-35 with uint8 weights (the avx2 preset). On plain AVX2 (no VNNI) the u8s8 product
    sums pairs into int16 and saturates with full 8-bit weights: cosine to fp32 fell to 0.65-0.72
    on an AMD EPYC; `reduce_range` (7-bit weights) keeps it at 0.995+ on both.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its "pre-process" advice
    fused = target.with_name("fused-" + fp32.name)
    # opt_level 1: graph fusions only, so the file stays runnable by any onnxruntime build
    optimizer.optimize_model(str(fp32), model_type="bert", opt_level=1).save_model_to_file(str(fused))
    quantize_dynamic(str(fused), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    fused.unlink()


def _write_probe(model_dir: Path, target: Path) -> None:
    """The fp32 vectors of PROBE_TEXTS, which int8 runs are checked against on each CPU."""
    vectors = OnnxEmbedder(model_dir, quantized=False, workers=1).embed_passages(list(PROBE_TEXTS))
    target.write_text(json.dumps({"texts": PROBE_TEXTS, "vectors": vectors.round(6).tolist()}), encoding="utf-8")


def export_onnx(model_dir: str | Path, *, log_fn: Callable[[str], None] = log.info) -> list[str]:
    """Write the missing ONNX files (fp32, int8, the fp32 probe) into `model_dir`; return the names written.

    Runs under a lock; each file is written to a temp dir beside it and renamed into place, then
    added to the model manifest (when the directory has one). Existing files are left alone.
    """
    from zhibu_qa.indexing.models import MANIFEST, record_files

    model_dir = Path(model_dir)
    with _locked(model_dir):
        missing = [rel for rel in (*ONNX_FILES.values(), PROBE_FILE) if not (model_dir / rel).is_file()]
        if not missing:
            return []
        (model_dir / "onnx").mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=model_dir / "onnx"))
        try:
            fp32 = model_dir / ONNX_FILES["onnx"]
            if not fp32.is_file():
                log_fn(f"exporting {model_dir.name} to ONNX (fp32)…")
                _export_fp32(model_dir, tmp / fp32.name)
                os.replace(tmp / fp32.name, fp32)
            int8 = model_dir / ONNX_FILES["onnx-int8"]
            if not int8.is_file():
                log_fn(f"quantizing {fp32.name} to int8 weights (per channel)…")
                _quantize(fp32, tmp / int8.name)
                os.replace(tmp / int8.name, int8)
            probe = model_dir / PROBE_FILE
            if not probe.is_file():
                _write_probe(model_dir, tmp / probe.name)
                os.replace(tmp / probe.name, probe)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"cannot export {model_dir} to ONNX: {type(exc).__name__}: {str(exc)[:300]}; "
                             f"{_HINT}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if (model_dir / MANIFEST).is_file():
            record_files(model_dir, missing)
    return missing


def _pooling(model_dir: Path) -> str:
    """"mean" or "cls" from the sentence-transformers pooling config (mean when absent)."""
    try:
        cfg = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "mean"
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_mean_tokens", True):
        return "mean"
    raise ModelError(f"{model_dir}: only mean or CLS pooling is supported by the ONNX backend ({cfg})")


def _max_length(model_dir: Path) -> int:
    try:
        cfg = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(cfg.get("max_seq_length", 512))
    except (OSError, ValueError):
        return 512


class OnnxEmbedder(Embedder):
    """A local model directory run by ONNX Runtime (fp32 or int8-quantized weights).

    Exports on first use when the ONNX file is missing. Texts are sorted by length (less padding);
    `batch_size` of them are in flight at once, split into `workers` batches that run concurrently,
    each on the calling thread of one shared one-thread session (onnxruntime frees the GIL in
    `run`). On 2 cores this took less CPU and, when the cores are shared, much less wall time than
    one batch on 2 intra-op threads, which wait for each other after every op (benchmarks/README.md).
    `workers=1` runs one batch at a time on `threads` intra-op threads. A single query runs on the
    one-thread session (the last RECENT_QUERIES of them are kept); 2-8 short texts, an answer's
    best sentences, on ANSWER_THREADS intra-op threads. The int8 file is checked against the fp32
    probe vectors when its first session loads.
    """

    def __init__(self, model_dir: str | Path, *, quantized: bool = True, query_prefix: str = "",
                 passage_prefix: str = "", batch_size: int = 16, threads: int = 0, workers: int = 0,
                 sort_by_length: bool = True):
        if batch_size < 1:
            raise ConfigError(f"embedding batch size must be at least 1, got {batch_size}")
        if workers < 0 or threads < 0:
            raise ConfigError(f"embedding workers and threads must be 0 (automatic) or more, got {workers}, {threads}")
        self.model_dir = Path(model_dir).expanduser()
        self.backend = "onnx-int8" if quantized else "onnx"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.threads = threads  # intra-op threads when workers == 1; 0: onnxruntime's default (one per core)
        self.workers = workers or _available_cores()  # batches at once; 0: one per available core
        self.sort_by_length = sort_by_length
        self._sessions: dict[int, object] = {}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._probe_checked = False
        self._lock = threading.Lock()
        self._tokenizer = None
        self._model_id: str | None = None
        self._dim: int | None = None

    @property
    def model_id(self) -> str:  # type: ignore[override]
        if self._model_id is None:
            if not (self.model_dir / "config.json").is_file():
                raise ModelError(f"{self.model_dir} is not a local model directory (no config.json); {_HINT}")
            self._model_id = f"{local_model_id(self.model_dir, self.passage_prefix)}+{_ID_TAGS[self.backend]}"
        return self._model_id

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            self._dim = int(self._session(self._passage_threads).get_outputs()[0].shape[-1])
        return self._dim

    @property
    def onnx_path(self) -> Path:
        return self.model_dir / ONNX_FILES[self.backend]

    @property
    def weight_files(self) -> tuple[str, ...]:
        """The weight files (relative to the model directory) this backend reads."""
        return (ONNX_FILES[self.backend],)

    @property
    def _passage_threads(self) -> int:
        return 1 if self.workers > 1 else self.threads

    def _session(self, threads: int):
        if threads not in self._sessions:
            self.model_id  # noqa: B018 - checks the directory first
            if not self.onnx_path.is_file():
                export_onnx(self.model_dir)
            try:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                # no busy-waiting between ops: on the 2 shared cores it burnt 20-25% more CPU for the
                # same batches (17 vs 21-22 CPU-s for 482 chunks, benchmarks/README.md)
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[threads] = ort.InferenceSession(str(self.onnx_path), opts,
                                                               providers=["CPUExecutionProvider"])
            except Exception as exc:
                raise ModelError(f"cannot load ONNX model {self.onnx_path}: {type(exc).__name__}: "
                                 f"{str(exc)[:300]}; {_HINT}") from exc
            if self.backend == "onnx-int8" and not self._probe_checked:
                self._probe_checked = True  # set first: the check itself runs this session
                try:
                    self._check_probe()
                except ModelError:
                    self._sessions.clear()  # a retry checks again rather than embedding with it
                    self._probe_checked = False
                    raise
        return self._sessions[threads]

    def _check_probe(self) -> None:
        """Int8 kernels differ by CPU: compare this CPU's int8 vectors of the probe sentences with the
        fp32 ones written at export, so a CPU whose kernels saturate fails loudly instead of indexing
        wrong vectors (one run of three short sentences)."""
        path = self.model_dir / PROBE_FILE
        try:
            probe = json.loads(path.read_text(encoding="utf-8"))
            texts, ref = list(probe["texts"]), np.asarray(probe["vectors"], dtype=np.float32)
        except (OSError, ValueError, KeyError, TypeError):
            return  # no probe (a directory exported by hand): nothing to compare with
        got = l2_normalize(self._run(texts, min(self._sessions), show_progress=False))
        cosine = float(np.min(np.sum(got * ref, axis=1))) if got.shape == ref.shape else 0.0
        if cosine < MIN_PROBE_COSINE:
            raise ModelError(f"{self.onnx_path.name} gives vectors unlike fp32 on this CPU (cosine {cosine:.3f}); "
                             "set embedding_backend = \"onnx\" (fp32) or re-export with `zhibu-qa fetch-model`")

    def _tok(self):
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            try:
                tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            except Exception as exc:
                raise ModelError(f"cannot load {self.model_dir / 'tokenizer.json'}: {exc}; {_HINT}") from exc
            tok.enable_truncation(_max_length(self.model_dir))
            tok.enable_padding()
            self._tokenizer = (tok, _pooling(self.model_dir))
        return self._tokenizer

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if len(texts) > 8 or not texts:
            return super().embed_queries(texts)
        if len(texts) == 1:  # the retriever and the answerability check both embed the question
            with self._lock:
                hit = self._recent.get(texts[0])
            if hit is None:
                hit = l2_normalize(self._run([self.query_prefix + texts[0]], QUERY_THREADS, show_progress=False))
                with self._lock:
                    self._recent[texts[0]] = hit
                    while len(self._recent) > RECENT_QUERIES:
                        self._recent.popitem(last=False)
            return hit.copy()
        # a question and its few best sentences wait on the answer: two intra-op threads cut that
        # wait from 205 to 110 ms for three sentences on an AVX2 core pair (benchmarks/README.md)
        threads = min(ANSWER_THREADS, _available_cores())
        return l2_normalize(self._run([self.query_prefix + t for t in texts], threads, show_progress=False))

    def _encode(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        return self._run(texts, self._passage_threads, show_progress=show_progress)

    def _run(self, texts: list[str], threads: int, *, show_progress: bool) -> np.ndarray:
        tok, pooling = self._tok()
        session = self._session(threads)
        wanted = {i.name for i in session.get_inputs()}
        order = np.argsort([-len(t) for t in texts], kind="stable") if self.sort_by_length else np.arange(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        workers = self.workers if threads == 1 else 1
        # batch_size texts are in flight at once, split over the workers: the same peak memory as one
        # batch (onnxruntime's arena keeps each run's peak; 2 x 16 rows took 700 MB against 415 for
        # 2 x 8, at the same CPU time)
        size = -(-self.batch_size // workers)
        batches = [order[start:start + size] for start in range(0, len(texts), size)]

        def embed_batch(rows: np.ndarray) -> None:
            encs = tok.encode_batch([texts[i] for i in rows])
            feeds = {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                     "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                     "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64)}
            hidden = session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
            if pooling == "cls":
                out[rows] = hidden[:, 0]
            else:
                mask = feeds["attention_mask"][..., None].astype(np.float32)
                out[rows] = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)

        bar = None
        if show_progress:
            from tqdm import tqdm

            bar = tqdm(total=len(batches), desc="embedding", unit="batch")
        workers = min(workers, len(batches))
        try:
            if workers <= 1:
                for rows in batches:
                    embed_batch(rows)
                    if bar is not None:
                        bar.update()
            else:
                from concurrent.futures import ThreadPoolExecutor

                # each batch writes its own rows of `out`; the longest batches start first
                with ThreadPoolExecutor(workers, thread_name_prefix="onnx-embed") as pool:
                    for _ in pool.map(embed_batch, batches):
                        if bar is not None:
                            bar.update()
        finally:
            if bar is not None:
                bar.close()
        return out


def _available_cores() -> int:
    """CPU cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)

"""Read a text source file into one decoded string: size and binary checks, encoding detection.

Owns: file checks (missing, directory, unreadable, empty, too big, binary), strict decoding in
the order UTF-8 with BOM -> UTF-8 -> GB18030 (a superset of GBK/GB2312) with a plausibility check
on the GB18030 result, newline normalisation and the SHA-256 of the raw bytes.
Leaves out: PDFs (`is_pdf` tells the caller to route them to `ingest.pdf`) and any layout work;
apart from newlines the returned text is exactly what the file holds, since offsets refer to it.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

from zhibu_qa.errors import IngestError

DEFAULT_MAX_BYTES = 20_000_000  # 20 MB: far above a magazine issue dump (about 300 KB)
PDF_MAGIC = b"%PDF-"
# Share of control bytes (other than tab, newlines, form feed) above which a file counts as
# binary; a text file has none, a PDF-to-text dump may carry a few form feeds (allowed).
MAX_CONTROL_SHARE = 0.05
# Share of non-space characters a genuine GB18030 text has in common scripts; decoding random
# bytes with GB18030 lands in private-use areas, rare extensions and C1 controls instead.
MIN_PLAUSIBLE_SHARE = 0.95
_SAMPLE_BYTES = 65_536
_ALLOWED_CONTROLS = frozenset(b"\t\n\r\x0b\x0c")
_ENCODINGS_TRIED = "UTF-8 (with or without BOM), GB18030/GBK/GB2312"

# Unicode ranges of text a Chinese document plausibly contains (GB2312 symbols included).
_PLAUSIBLE_RANGES = (
    (0x20, 0x7E),  # ASCII printable
    (0xA0, 0x24F),  # Latin-1 supplement, Latin extended (×, °, ü, é)
    (0x2B0, 0x2FF),  # spacing modifiers (ˉ ˇ in GB2312)
    (0x370, 0x4FF),  # Greek, Cyrillic (both in GB2312)
    (0x2000, 0x2BFF),  # punctuation, letterlike, numbers ①, arrows, math, box drawing, shapes
    (0x3000, 0x33FF),  # CJK punctuation, kana, bopomofo, enclosed CJK ㈠, compatibility
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE6F),  # vertical and small forms, CJK compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms
)


def is_pdf(path: Path) -> bool:
    """True when the file starts with the PDF magic bytes (route it to `ingest.pdf`).

    Example: is_pdf(Path("issue.pdf")) is True for a real PDF, whatever its name.
    """
    try:
        with open(path, "rb") as fh:
            return fh.read(len(PDF_MAGIC)) == PDF_MAGIC
    except OSError:
        return False


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (used as the issue fingerprint, e.g. for PDFs)."""
    return hashlib.sha256(_read_bytes(Path(path), None)).hexdigest()


def read_source(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str, str]:
    """Return (text, encoding_name, sha256_of_bytes) of a UTF-8 or GB18030 text file.

    Raises IngestError for a missing, unreadable, empty, too big, binary, PDF or undecodable file.
    Example: read_source(Path("gbk.txt")) == ("中文\\n", "gb18030", "…")
    """
    path = Path(path)
    data = _read_bytes(path, max_bytes)
    if not data.strip():
        raise IngestError(f"source file is empty: {path}")
    if data.startswith(PDF_MAGIC):
        raise IngestError(f"{path} is a PDF; extract its text with zhibu_qa.ingest.pdf first")
    _check_not_binary(path, data)
    text, encoding = decode_bytes(data, str(path))
    if not text.strip():
        raise IngestError(f"source file holds only whitespace: {path}")
    return normalize_newlines(text), encoding, hashlib.sha256(data).hexdigest()


def decode_bytes(data: bytes, name: str = "<bytes>") -> tuple[str, str]:
    """Strictly decode with UTF-8-with-BOM, UTF-8, then GB18030; return (text, encoding name).

    Example: decode_bytes("党建".encode("gbk")) == ("党建", "gb18030")
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:  # offsets count from the start of the file, BOM included
            raise IngestError(
                f"{name} starts with a UTF-8 BOM but is not valid UTF-8: invalid byte "
                f"0x{data[len(codecs.BOM_UTF8) + exc.start]:02x} at offset {len(codecs.BOM_UTF8) + exc.start}"
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IngestError(f"{name} is UTF-16, which is not supported; save it as UTF-8")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_offset = exc.start
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        # each attempt fails at its own offset: name both, so the user can find the bad byte
        raise IngestError(
            f"cannot decode {name}: not valid in any of {_ENCODINGS_TRIED} (first invalid byte "
            f"0x{data[utf8_offset]:02x} at offset {utf8_offset} as UTF-8, 0x{data[exc.start]:02x} at "
            f"offset {exc.start} as GB18030); save it as UTF-8"
        ) from exc
    share = plausible_share(text)
    if share < MIN_PLAUSIBLE_SHARE:
        raise IngestError(
            f"cannot decode {name}: not UTF-8, and as GB18030 only {share:.0%} of the characters "
            f"are ordinary Chinese/ASCII text (need {MIN_PLAUSIBLE_SHARE:.0%}); tried {_ENCODINGS_TRIED}"
        )
    return text, "gb18030"


def plausible_share(text: str) -> float:
    """Share of non-whitespace characters that lie in scripts a Chinese document uses.

    Example: plausible_share("中文ABC") == 1.0; plausible_share("\\ue4c5\\ue4c5") == 0.0
    """
    total = good = 0
    for ch in text:
        if ch.isspace():
            continue
        total += 1
        cp = ord(ch)
        if any(lo <= cp <= hi for lo, hi in _PLAUSIBLE_RANGES):
            good += 1
    return good / total if total else 1.0


def normalize_newlines(text: str) -> str:
    """Turn \\r\\n and lone \\r into \\n; nothing else changes.

    Example: normalize_newlines("a\\r\\nb\\rc") == "a\\nb\\nc"
    """
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_bytes(path: Path, max_bytes: int | None) -> bytes:
    if not path.exists():
        raise IngestError(f"source file not found: {path}")
    if path.is_dir():
        raise IngestError(f"source path is a directory, not a file: {path}")
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise IngestError(
                f"source file {path} is too big: {size:,} bytes, the limit is {max_bytes:,} bytes"
            )
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read source file {path}: {exc.strerror or exc}") from exc


def _check_not_binary(path: Path, data: bytes) -> None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IngestError(f"{path} is UTF-16, which is not supported; save it as UTF-8")
    sample = data[:_SAMPLE_BYTES]
    if b"\x00" in sample:
        raise IngestError(f"{path} looks like a binary file (it contains NUL bytes), not text")
    controls = sum(1 for b in sample if (b < 0x20 or b == 0x7F) and b not in _ALLOWED_CONTROLS)
    if controls / len(sample) > MAX_CONTROL_SHARE:
        raise IngestError(
            f"{path} looks like a binary file ({controls} control bytes in the first "
            f"{len(sample):,} bytes), not text"
        )

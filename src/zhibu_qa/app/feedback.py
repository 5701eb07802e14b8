"""User feedback on answers: one JSON object per line, appended to a file that survives restarts.

Owns the record shape (time, rating, comment, question, answer, citations, settings), the
append/read of the JSONL file with rotation by size, and `RecentAnswers`, the server-side memory
of answers it issued (feedback is accepted only for those, so records cannot be forged). Where the
file lives comes from the caller (settings.feedback_path); nothing here reads the environment.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zhibu_qa.errors import InputError

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 1000  # a paragraph is plenty; keeps the log small and readable
MAX_FILE_BYTES = 5 * 1024 * 1024  # rotate feedback.jsonl -> .1 -> .2 … beyond this
KEEP_ROTATED = 5
MAX_RECORD_BYTES = 256 * 1024  # one answer with its citations is a few KB
RECENT_ANSWERS = 2000  # answers remembered for feedback (a few MB of memory at most)
_LOCK = threading.Lock()  # one writer at a time within a process (the UI serves several sessions)


class RecentAnswers:
    """The last `capacity` answers the server issued, by random id, with the options they used."""

    def __init__(self, capacity: int = RECENT_ANSWERS):
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[dict, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, answer: Mapping[str, Any], options: Mapping[str, Any] | None = None,
              answer_id: str | None = None) -> str:
        answer_id = answer_id or uuid.uuid4().hex
        with self._lock:
            self._items[answer_id] = (dict(answer), dict(options or {}))
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return answer_id

    def get(self, answer_id: Any) -> tuple[dict, dict]:
        """(answer, options) for an id this server issued; else an InputError."""
        with self._lock:
            found = self._items.get(answer_id) if isinstance(answer_id, str) else None
        if found is None:
            raise InputError("找不到这条回答（编号无效或已过期）：只能评价本服务给出的回答。")
        return found


def feedback_record(rating: str, answer: Mapping[str, Any], comment: str = "",
                    settings: Mapping[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """One feedback line from an answer in `formatting.answer_json` shape.

    Example: feedback_record("up", {"question": "q", "answer": "a"})["rating"] == "up"
    """
    if rating not in RATINGS:
        raise InputError(f"评价只能是 {' 或 '.join(RATINGS)}，收到的是 {rating!r}。")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InputError(f"意见过长（{len(comment)} 字），请控制在 {MAX_COMMENT_CHARS} 字以内。")
    question = str(answer.get("question") or "").strip()
    if not question:
        raise InputError("没有可评价的回答：请先提问。")
    return {
        "time": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "rating": rating,
        "comment": comment,
        "question": question,
        "answer": str(answer.get("answer") or ""),
        "refused": bool(answer.get("refused", False)),
        "citations": list(answer.get("citations") or []),
        "settings": dict(settings or {}),
    }


def _rotate(path: Path, keep: int) -> None:
    for i in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{i + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def append_feedback(path: str | Path, record: Mapping[str, Any], *, max_bytes: int = MAX_FILE_BYTES,
                    keep: int = KEEP_ROTATED) -> Path:
    """Append one record as a JSON line (creating the folder; rotating a full file); returns the path."""
    path = Path(path)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    if len(line.encode("utf-8")) > MAX_RECORD_BYTES:
        raise InputError("反馈内容过大，未记录。")
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size + len(line.encode("utf-8")) > max_bytes:
            _rotate(path, keep)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def read_feedback(path: str | Path) -> list[dict[str, Any]]:
    """All records of a feedback file ([] when it does not exist); unreadable lines are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out

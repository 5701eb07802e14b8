"""User feedback on answers: one JSON object per line, appended to a file that survives restarts.

Owns the record shape (time, rating, comment, question, answer, citations, settings) and the
append/read of the JSONL file. Where the file lives comes from the caller (settings.feedback_path);
nothing here reads the environment or knows about the UI.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import InputError

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 1000  # a paragraph is plenty; keeps the log small and readable
_LOCK = threading.Lock()  # one writer at a time within a process (the UI serves several sessions)


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


def append_feedback(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Append one record as a JSON line (creating the folder); returns the file path."""
    path = Path(path)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
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

"""The common end of a benchmark script: note the load, write the JSON report if asked."""

from __future__ import annotations

import json
import os
from pathlib import Path


def finish(report: dict, out: Path | None) -> int:
    report["load_after"] = os.getloadavg()
    print(f"load average after: {report['load_after']}")
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0

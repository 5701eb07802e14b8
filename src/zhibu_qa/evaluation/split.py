"""The fixed tuning/test split of an evaluation dataset, by question id.

Every fifth question (ids ending in a number divisible by 5: q005, q010, …) is in the test part;
ids without a number are split by a hash. Paraphrases (`source_id`) follow their source question.
Tuning may look at the tuning part only; floors apply to the test part.
"""

from __future__ import annotations

import hashlib
import re

TEST_EVERY = 5


def is_test(case_id: str) -> bool:
    """Example: is_test("q010") and not is_test("q011")"""
    m = re.match(r"\D*(\d+)", case_id)
    if m:
        return int(m.group(1)) % TEST_EVERY == 0
    return int(hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:8], 16) % TEST_EVERY == 0

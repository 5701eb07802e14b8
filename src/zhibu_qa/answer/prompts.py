"""Prompt templates: loading from the top-level `prompts/` directory and strict rendering.

Owns the template syntax (`{name}` placeholders, `{{`/`}}` for literal braces), the layout of the
numbered excerpt block and of the chat history, and packing excerpts into a token budget.
Leaves out what the prompts say (that is in the .txt files) and calling a model (llms.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from zhibu_qa.errors import ConfigError
from zhibu_qa.text import count_tokens
from zhibu_qa.types import Turn

# The phrase the answer prompt tells the model to use when the excerpts do not answer the question;
# answering.py may look for it to recognise a refusal. It appears literally in answer_system.txt.
REFUSAL_PHRASE = "本刊（知识库）未涉及"

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
# "{{", "}}", a placeholder "{...}", or a lone brace (an error).
_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def load_prompt(name: str, prompts_dir: Path) -> str:
    """The text of `prompts_dir/<name>.txt`, without surrounding whitespace.

    Example: load_prompt("answer_system", Path("prompts")).startswith("你是")
    """
    prompts_dir = Path(prompts_dir)
    if not prompts_dir.is_dir():
        raise ConfigError(f"prompts directory {prompts_dir} does not exist")
    available = sorted(p.stem for p in prompts_dir.glob("*.txt"))
    if not _NAME_RE.fullmatch(name) or name not in available:
        raise ConfigError(
            f"unknown prompt {name!r} in {prompts_dir}; available prompts: {', '.join(available) or '(none)'}"
        )
    path = prompts_dir / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read prompt file {path}: {exc}") from exc


def placeholders(template: str) -> set[str]:
    """The placeholder names of `template` (raises ConfigError on bad brace syntax).

    Example: placeholders("{{x}} {question}") == {"question"}
    """
    names = set()
    for m in _TOKEN_RE.finditer(template):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        names.add(_placeholder_name(template, m))
    return names


def render(template: str, **variables: object) -> str:
    """Fill `{name}` placeholders; every placeholder must be given and every variable used.

    Values are inserted verbatim (braces inside them are not re-interpreted).
    Example: render("问：{q} {{注}}", q="什么？") == "问：什么？ {注}"
    """
    names = placeholders(template)
    missing = sorted(names - variables.keys())
    if missing:
        raise ConfigError(
            f"prompt template needs variable(s) {', '.join(missing)}; given: {', '.join(sorted(variables)) or '(none)'}"
        )
    unused = sorted(variables.keys() - names)
    if unused:
        raise ConfigError(
            f"variable(s) {', '.join(unused)} are not used by the prompt template; "
            f"its placeholders: {', '.join(sorted(names)) or '(none)'}"
        )

    def substitute(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return str(variables[m.group(1)])

    return _TOKEN_RE.sub(substitute, template)


def _placeholder_name(template: str, m: re.Match[str]) -> str:
    name = m.group(1)
    if name is None:
        raise ConfigError(
            f"prompt template has an unmatched {m.group(0)!r} at offset {m.start()} "
            f"(near {template[max(0, m.start() - 10):m.end() + 10]!r}); write {{{{ or }}}} for a literal brace"
        )
    if not name.isidentifier():
        raise ConfigError(
            f"prompt template has an invalid placeholder {{{name}}} at offset {m.start()}; "
            "placeholders are plain names like {question}"
        )
    return name


def excerpt_header(
    title: str, column: str | None = None, section: str | None = None, authors: Sequence[str] = ()
) -> str:
    """The header line of an excerpt: title · column · section · authors (empty parts left out).

    Example: excerpt_header("标题", "栏目", None, ("张三", "李四")) == "标题 · 栏目 · 张三、李四"
    """
    parts = [title, column or "", section or "", "、".join(a for a in authors if a)]
    return " · ".join(p.strip() for p in parts if p and p.strip())


def format_excerpt(n: int, header: str, text: str) -> str:
    """One numbered excerpt block as it appears in the user prompt.

    Example: format_excerpt(2, "标题 · 栏目", "正文。") == "【2】标题 · 栏目\\n正文。"
    """
    return f"【{n}】{header}\n{text}"


def format_excerpts(excerpts: Sequence[tuple[str, str]]) -> str:
    """Number (header, text) pairs from 1 and join their blocks with a blank line.

    Example: format_excerpts([("甲", "a"), ("乙", "b")]) == "【1】甲\\na\\n\\n【2】乙\\nb"
    """
    return "\n\n".join(format_excerpt(i, header, text) for i, (header, text) in enumerate(excerpts, 1))


def pack_context(excerpts: Sequence[tuple[str, str]], budget_tokens: int) -> list[tuple[str, str]]:
    """Keep (header, text) excerpts in order while their blocks fit in `budget_tokens`.

    Stops at the first excerpt that does not fit, so kept excerpt i is still input excerpt i
    (numbering stays aligned with the hits). The first excerpt is always kept; if it alone is over
    budget its text is cut to the longest prefix that fits. Tokens are counted with
    `text.count_tokens` on each block as `format_excerpt` writes it (separators not counted).
    Example: pack_context([("h", "短文。"), ("h", "长" * 5000)], 100) == [("h", "短文。")]
    """
    if budget_tokens < 1:
        raise ConfigError(f"context budget must be at least 1 token, got {budget_tokens}")
    kept: list[tuple[str, str]] = []
    used = 0
    for i, (header, text) in enumerate(excerpts, 1):
        cost = count_tokens(format_excerpt(i, header, text))
        if used + cost > budget_tokens:
            if not kept:
                kept.append((header, _longest_prefix(header, text, budget_tokens)))
            break
        kept.append((header, text))
        used += cost
    return kept


def _longest_prefix(header: str, text: str, budget_tokens: int) -> str:
    """The longest prefix of `text` whose excerpt block (number 1) fits in the budget."""
    lo, hi = 0, len(text)  # invariant: text[:lo] fits (or lo == 0), text[:hi + 1] does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(format_excerpt(1, header, text[:mid])) <= budget_tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def format_history(turns: Sequence[Turn], *, max_turns: int = 3, max_answer_chars: int = 300) -> str:
    """The last `max_turns` turns as "用户：…/助手：…" lines, long answers cut with "…".

    Example: format_history([Turn("问", "答")]) == "用户：问\\n助手：答"
    """
    lines = []
    for turn in list(turns)[-max_turns:] if max_turns > 0 else []:
        answer = turn.answer.strip()
        if len(answer) > max_answer_chars:
            answer = answer[:max_answer_chars] + "…"
        lines.append(f"用户：{turn.question.strip()}")
        lines.append(f"助手：{answer}")
    return "\n".join(lines)

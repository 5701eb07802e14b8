"""The corpus user dictionary: term extraction, the jieba file format, and whole-term tokens."""

from pathlib import Path

import pytest

from zhibu_qa.errors import ConfigError
from zhibu_qa.indexing.userdict import extract_terms, merge_terms, read_user_dict, write_user_dict
from zhibu_qa.text import load_user_dict, tokenize

SHIPPED = Path(__file__).resolve().parents[1] / "corpus" / "userdict.txt"


def test_extract_terms_takes_short_quoted_cjk_terms_in_all_quote_styles():
    text = "启动“吹哨报到”机制，破解『小马拉大车』，抓好「两企三新」，“好”与“一二三四五六七八九”不算。"
    assert extract_terms([text]) == ["吹哨报到", "小马拉大车", "两企三新"]


def test_extract_terms_skips_non_cjk_and_stopwords_and_deduplicates_in_first_seen_order():
    texts = ["“AI赋能”和“四强”", "再说“四强”与“什么”，还有“五权”"]
    assert extract_terms(texts) == ["四强", "五权"]


def test_extract_terms_adds_title_pieces_of_two_to_eight_characters():
    titles = ["减牌子 挑担子 服务群众有『里子』", "“小马拉大车”有解了", "党建引领基层治理现代化的天津实践探索"]
    assert extract_terms([], titles) == ["减牌子", "挑担子", "服务群众有", "里子", "小马拉大车", "有解了"]


def test_merge_terms_keeps_first_seen_order_without_blanks():
    assert merge_terms(["四强", " 五权", ""], ["五权", "三会一课"]) == ["四强", "五权", "三会一课"]


def test_write_user_dict_uses_jieba_term_freq_lines(tmp_path):
    path = write_user_dict(["吹哨报到", "四强", "吹哨报到"], tmp_path / "d.txt")
    assert path.read_text(encoding="utf-8") == "吹哨报到 2000\n四强 2000\n"


def test_read_user_dict_drops_frequencies_tags_comments_and_blank_lines(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("# 注释\n吹哨报到 2000\n\n四强 10 n\n五权\n四强\n", encoding="utf-8")
    assert read_user_dict(path) == ["吹哨报到", "四强", "五权"]


def test_read_user_dict_names_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.txt"):
        read_user_dict(tmp_path / "nope.txt")


def test_write_user_dict_refuses_terms_with_spaces(tmp_path):
    with pytest.raises(ValueError, match="whitespace"):
        write_user_dict(["吹哨 报到"], tmp_path / "d.txt")


def test_loaded_dictionary_keeps_corpus_terms_whole_in_tokens(tmp_path):
    # a made-up term no other test adds, so the "before" check is independent of test order
    assert "滨海夜巡哨" not in tokenize("他们组建了滨海夜巡哨队伍")
    path = write_user_dict(["吹哨报到", "滨海夜巡哨"], tmp_path / "userdict.txt")
    load_user_dict(str(path))
    assert "吹哨报到" in tokenize("对此，街道启动了“吹哨报到”机制")
    assert "滨海夜巡哨" in tokenize("他们组建了滨海夜巡哨队伍")


def test_shipped_dictionary_holds_core_terms_and_no_comment_lines():
    terms = read_user_dict(SHIPPED)
    for term in ("吹哨报到", "小马拉大车", "两企三新", "三会一课", "四强", "五权", "精网微格", "全科网格", "书记项目"):
        assert term in terms
    # jieba would read a comment line as a word, so the shipped file must not have any
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    assert all(line and not line.startswith("#") and len(line.split()) == 2 for line in lines)

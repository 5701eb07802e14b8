"""Tests for ingest.decode: encodings, newline handling and every refusal of a bad source file."""

from __future__ import annotations

import codecs
import hashlib
import os
from pathlib import Path

import pytest

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest.decode import decode_bytes, file_sha256, is_pdf, plausible_share, read_source

FIXTURES = Path(__file__).parent / "fixtures"
CONSTITUTION = FIXTURES / "cpc-constitution-2017-zh.txt"
ARTICLE = FIXTURES / "plain-article-wrapped.txt"


def _write(tmp_path: Path, data: bytes, name: str = "source.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_fixture_decodes_with_sha256_of_bytes():
    text, encoding, sha = read_source(CONSTITUTION)
    data = CONSTITUTION.read_bytes()
    assert encoding == "utf-8"
    assert text == data.decode("utf-8")
    assert sha == hashlib.sha256(data).hexdigest() == file_sha256(CONSTITUTION)
    assert text.startswith("中国共产党章程")


@pytest.mark.parametrize("fixture", [CONSTITUTION, ARTICLE])
@pytest.mark.parametrize("codec", ["gbk", "gb18030"])
def test_gbk_copy_decodes_to_the_same_text_as_utf8_original(tmp_path, fixture, codec):
    original, _, _ = read_source(fixture)
    path = _write(tmp_path, original.encode(codec))
    text, encoding, sha = read_source(path)
    assert text == original
    assert encoding == "gb18030"
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()


def test_gb2312_text_decodes(tmp_path):
    original = "党支部书记：认真学习，做好“三会一课”。\n"
    text, encoding, _ = read_source(_write(tmp_path, original.encode("gb2312")))
    assert (text, encoding) == (original, "gb18030")


def test_utf8_bom_is_stripped(tmp_path):
    text, encoding, sha = read_source(_write(tmp_path, codecs.BOM_UTF8 + "标题\n正文。\n".encode()))
    assert text == "标题\n正文。\n"
    assert encoding == "utf-8-sig"
    assert sha == hashlib.sha256(codecs.BOM_UTF8 + "标题\n正文。\n".encode()).hexdigest()


def test_crlf_and_cr_newlines_become_lf_and_nothing_else_changes(tmp_path):
    raw = "第一行\r\n　　第二行 \r第三行\t\n"
    text, _, _ = read_source(_write(tmp_path, raw.encode("utf-8")))
    assert text == "第一行\n　　第二行 \n第三行\t\n"


def test_crlf_in_gbk_file(tmp_path):
    text, encoding, _ = read_source(_write(tmp_path, "甲\r\n乙\r\n".encode("gbk")))
    assert (text, encoding) == ("甲\n乙\n", "gb18030")


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(IngestError, match="not found.*nope.txt"):
        read_source(missing)


def test_directory_is_refused(tmp_path):
    with pytest.raises(IngestError, match="directory"):
        read_source(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_refused(tmp_path):
    path = _write(tmp_path, "正文".encode())
    path.chmod(0)
    try:
        with pytest.raises(IngestError, match="cannot read"):
            read_source(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", "\u3000\u3000\n".encode()])
def test_empty_or_whitespace_file_is_refused(tmp_path, data):
    path = _write(tmp_path, data)
    with pytest.raises(IngestError, match=r"empty|only whitespace") as info:
        read_source(path)
    assert str(path) in str(info.value)


def test_file_above_max_bytes_names_size_and_limit(tmp_path):
    path = _write(tmp_path, ("党建" * 100).encode())  # 600 bytes
    with pytest.raises(IngestError, match=r"too big: 600 bytes, the limit is 100 bytes"):
        read_source(path, max_bytes=100)
    assert read_source(path, max_bytes=600)[0] == "党建" * 100


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # NUL bytes
        bytes(range(1, 32)) * 4 + "正文".encode(),  # mostly control characters
    ],
)
def test_binary_content_is_refused(tmp_path, data):
    with pytest.raises(IngestError, match="looks like a binary file"):
        read_source(_write(tmp_path, data))


def test_a_few_form_feeds_are_not_binary(tmp_path):
    text, _, _ = read_source(_write(tmp_path, ("第一页正文。" * 20 + "\f\n第二页正文。").encode()))
    assert "\f" in text


def test_pdf_is_left_to_the_pdf_reader(tmp_path):
    path = _write(tmp_path, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", name="issue.txt")
    assert is_pdf(path)
    assert not is_pdf(CONSTITUTION)
    with pytest.raises(IngestError, match="is a PDF"):
        read_source(path)


def test_utf16_is_refused_with_advice(tmp_path):
    with pytest.raises(IngestError, match="UTF-16"):
        read_source(_write(tmp_path, "正文内容".encode("utf-16")))


def test_undecodable_bytes_name_the_encodings_tried(tmp_path):
    path = _write(tmp_path, b"caf\xe9 \x80\xff au lait")
    with pytest.raises(IngestError, match=r"UTF-8.*GB18030") as info:
        read_source(path)
    assert str(path) in str(info.value)


def test_gb18030_decode_of_implausible_text_is_refused():
    # valid GB18030, but user-defined (private use) code points: not a Chinese text
    with pytest.raises(IngestError, match=r"GB18030.*tried"):
        decode_bytes(b"\xfe\xfe" * 50 + b"\n")


def test_plausible_share_counts_common_scripts():
    assert plausible_share("中文 ABC，①α“引号”") == 1.0
    assert plausible_share("\ue4c5\ue4c5") == 0.0
    assert plausible_share("") == 1.0


def test_utf8_is_preferred_over_gb18030():
    # these bytes are valid in both; UTF-8 wins
    data = "党建".encode()
    assert decode_bytes(data) == ("党建", "utf-8")


def test_invalid_byte_offset_after_a_bom_counts_from_the_start_of_the_file():
    data = codecs.BOM_UTF8 + "党建工作".encode() + b"\xff" + "正文".encode()
    with pytest.raises(IngestError, match=r"0xff at offset 15\b"):
        decode_bytes(data, "bom.txt")


def test_undecodable_file_names_the_bad_byte_of_each_attempt():
    # GBK text (invalid UTF-8 from byte 0) with a lone 0x80 at offset 4 (invalid GB18030 there)
    data = "工作".encode("gbk") + b"\x80" + "正文".encode("gbk")
    with pytest.raises(IngestError) as info:
        decode_bytes(data, "mixed.txt")
    message = str(info.value)
    assert "at offset 0 as UTF-8" in message and "0x80 at offset 4 as GB18030" in message

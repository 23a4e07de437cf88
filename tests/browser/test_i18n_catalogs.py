"""The two message catalogs have the same keys, no empty text and the same placeholders."""

from __future__ import annotations

import json
import re
import string

from livecart.web import i18n

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(lang: str) -> dict[str, str]:
    return dict(json.loads((i18n.CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8")))


def test_catalogs_have_the_same_keys() -> None:
    zh, en = load("zh-CN"), load("en")
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


def test_no_value_is_empty() -> None:
    for lang in i18n.LANGUAGES:
        empty = [k for k, v in load(lang).items() if not isinstance(v, str) or not v.strip()]
        assert empty == [], lang


def test_placeholders_match() -> None:
    zh, en = load("zh-CN"), load("en")
    for key, text in en.items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(zh[key])), key
        for value in (text, zh[key]):
            list(string.Formatter().parse(value))  # well-formed


def test_language_choice() -> None:
    assert i18n.choose("en", "zh-CN,zh;q=0.9") == "en"
    assert i18n.choose(None, "zh-TW,en;q=0.8") == "zh-CN"
    assert i18n.choose(None, "fr-FR,zh;q=0.9,en;q=0.8") == "en"
    assert i18n.choose(None, "en;q=0.5,zh;q=0.9") == "zh-CN"
    assert i18n.choose("xx", None) == "en"
    assert i18n.Translator("zh-CN")("catalog.stock_n", n=3) == "库存 3"

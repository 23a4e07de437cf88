"""UI text in 简体中文 and English from the JSON catalogs next to this module."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

CATALOG_DIR = Path(__file__).parent / "i18n"
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "lc_lang"
# Message groups the page scripts use; only these are embedded into pages as JSON.
JS_GROUPS = (
    "err.",
    "time.",
    "show.",
    "catalog.",
    "host.",
    "category.",
    "state.",
    "room.",
    "console.",
    "product.",
    "replay.",
)


@cache
def catalog(lang: str) -> dict[str, str]:
    raw = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in raw.items()}


def normalise(code: str | None) -> str | None:
    """A supported language for a tag such as `zh`, `zh-Hans-CN` or `en-GB`, else None."""
    if not code:
        return None
    tag = code.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str:
    """The preferred language: the highest-weighted tag; zh* is Chinese, anything else English."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if weight <= 0:
            continue
        key = (-weight, index, tag)
        if best is None or key < best:
            best = key
    if best is None:
        return DEFAULT_LANGUAGE
    return "zh-CN" if best[2].lower().startswith("zh") else "en"


def choose(cookie: str | None, accept_language: str | None) -> str:
    return normalise(cookie) or from_accept_language(accept_language)


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.messages = catalog(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self.messages.get(key) or catalog(DEFAULT_LANGUAGE).get(key) or key
        return text.format(**values) if values else text

    def js_messages(self) -> dict[str, str]:
        """The strings the page scripts need, in this language."""
        return {k: v for k, v in self.messages.items() if k.startswith(JS_GROUPS)}

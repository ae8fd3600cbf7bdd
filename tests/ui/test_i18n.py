"""Every label exists in English and Korean, every key the scripts use is defined, and the page has no
inline script or style (the CSP would block them)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "ui" / "static"
KEY = re.compile(r"^\s*'([^']+)':\s*'(.*)',\s*$", re.M)


def labels(lang: str) -> dict[str, str]:
    return dict(KEY.findall((STATIC / "js" / "i18n" / f"{lang}.js").read_text(encoding="utf-8")))


def test_english_and_korean_have_the_same_keys_and_korean_is_korean() -> None:
    en, ko = labels("en"), labels("ko")
    assert len(en) > 150 and set(en) == set(ko)
    hangul = re.compile(r"[\uac00-\ud7a3]")
    # everything a person reads is translated (names such as OEE, API, OPC UA and placeholders aside)
    untranslated = [k for k, v in ko.items() if not hangul.search(v) and re.sub(r"\{\w+\}|[^A-Za-z]", "", v)
                    and v not in ("OEE", "ID")]
    assert untranslated == [], untranslated
    for k in en:  # the same placeholders on both sides
        assert set(re.findall(r"\{\w+\}", en[k])) == set(re.findall(r"\{\w+\}", ko[k])), k


def test_every_key_the_scripts_use_exists() -> None:
    en = labels("en")
    used: set[str] = set()
    for js in (STATIC / "js").rglob("*.js"):
        used |= set(re.findall(r"\bt\('([a-zA-Z0-9_.]+)'", js.read_text(encoding="utf-8")))
    assert used and used - set(en) == set()
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert set(re.findall(r'data-i18n(?:-aria)?="([^"]+)"', html)) - set(en) == set()


def test_no_inline_script_or_style_anywhere() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html and "javascript:" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for js in (STATIC / "js").rglob("*.js"):
        text = js.read_text(encoding="utf-8")
        # DOM built from text nodes only: nothing a machine sends can become markup
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text, js
        assert "setAttribute('style'" not in text, js
    for f in STATIC.rglob("*"):
        assert "http://" not in f.name and (f.suffix not in (".js", ".css", ".html") or "cdn." not in f.read_text()), f

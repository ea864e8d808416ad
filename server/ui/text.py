"""The only builders that put text on a screen: untrusted text goes in, sanitised text comes out.

`SafeTextControl` is the one control that draws text: it sanitises every fragment it is given,
so a raw string from a user (`[("", ticket.author_name)]`) is drawn harmless. `fit`, `wrap`,
`plain` and `one_line` shape untrusted text for it (cut, padded, wrapped to terminal columns).
"""

from __future__ import annotations

from typing import Any

from prompt_toolkit.formatted_text import AnyFormattedText, StyleAndTextTuples, to_formatted_text
from prompt_toolkit.layout import FormattedTextControl
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.utils import get_cwidth

from ..domain.text import safe_text, unreordered


def safe_fragments(fragments: StyleAndTextTuples) -> StyleAndTextTuples:
    """Fragments as they may reach the terminal: each text sanitised, its line feeds kept (they
    end the control's lines); `[ZeroWidthEscape]` fragments, which prompt_toolkit writes out
    raw, are dropped."""
    out: StyleAndTextTuples = []
    for fragment in fragments:
        style, text = fragment[0], fragment[1]
        if "[ZeroWidthEscape]" in style:
            continue
        clean = safe_text(text, multiline=True)
        out.append(fragment if clean is text else (style, clean, *fragment[2:]))  # type: ignore[arg-type]
    return out


class SafeTextControl(FormattedTextControl):
    """The one control that draws text on a screen: whatever it is given, raw strings and
    fragments included, reaches the terminal sanitised."""

    def __init__(self, text: AnyFormattedText = "", **kwargs: Any) -> None:
        super().__init__(lambda: safe_fragments(to_formatted_text(text, auto_convert=True)), **kwargs)


class VisibleInput(Processor):
    """A form field's text as it may reach the terminal: prompt_toolkit already draws C0 and
    C1 controls as ^[ or <9b>; bidirectional controls and lone surrogates become U+FFFD."""

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        return Transformation([(f[0], unreordered(f[1]), *f[2:]) for f in ti.fragments])  # type: ignore[misc]


def one_line(text: str) -> str:
    """Untrusted text for one line of a screen: sanitised, a line break shown as ␊."""
    return safe_text(text)


def fit(text: str, width: int) -> str:
    """Sanitised one-line text cut (with an ellipsis) or padded to exactly `width` columns."""
    text = safe_text(text)
    out, used = "", 0
    for ch in text:
        w = get_cwidth(ch)
        if used + w > width:
            # Room for the ellipsis: drop characters until it fits.
            while out and used + 1 > width:
                used -= get_cwidth(out[-1])
                out = out[:-1]
            return out + "…" + " " * max(0, width - used - 1)
        out += ch
        used += w
    return out + " " * (width - used)


def wrap(text: str, width: int, *, multiline: bool = True) -> list[str]:
    """Sanitised text cut into lines of at most `width` terminal columns (accents, wide emoji)."""
    width = max(10, width)
    lines: list[str] = []
    for paragraph in safe_text(text, multiline=multiline).split("\n"):
        line, used = "", 0
        for word in paragraph.split(" "):
            w = get_cwidth(word)
            while w > width:  # a word longer than the line is cut
                if used:
                    lines.append(line)
                    line, used = "", 0
                cut, cw = "", 0
                for ch in word:
                    if cw + get_cwidth(ch) > width:
                        break
                    cut += ch
                    cw += get_cwidth(ch)
                lines.append(cut)
                word = word[len(cut) :]
                w = get_cwidth(word)
            if used and used + 1 + w > width:
                lines.append(line)
                line, used = "", 0
            line, used = (f"{line} {word}", used + 1 + w) if used else (word, w)
        lines.append(line)
    return lines


def plain(text: str, style: str = "", width: int = 78) -> list[StyleAndTextTuples]:
    """Trusted or untrusted text, sanitised and wrapped: one fragment list per line."""
    return [[(style, line)] for line in wrap(text, width)]

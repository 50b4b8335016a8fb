"""Markdown (a notebook's markdown cells and Markdown outputs) to AsciiDoc, in Python (mistune's syntax tree),
so rendering a report needs no pandoc.

Covers what reports use: headings, paragraphs, emphasis, strong, code, links, images, lists, block quotes, code
blocks, rules and pipe tables. Text is escaped with character references, so `*`, `_`, `{`, `|`, ... in a
sentence stay characters. The first level-1 heading of a document becomes its title; later level-1 headings
become sections like level-2 ones (AsciiDoc articles have one title).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mistune

_SPECIAL = "*_`+^~#[]{}\\|<>&"
_ESCAPES = {ord(char): f"&#{ord(char)};" for char in _SPECIAL if char not in "<>&"}
# `<`, `>` and `&` are safe in AsciiDoc text (the special-characters substitution escapes them), but a lone
# `<<` starts a cross reference: break that pair up.
_LEADING = set(".:/=-'\"!")
Token = dict[str, Any]


def escape(text: str) -> str:
    """Plain text as AsciiDoc text that shows exactly these characters."""
    return text.translate(_ESCAPES).replace("<<", "&#60;&#60;")


def _plain(token: Token) -> str:
    """The text of a token and its children, without markup."""
    return token.get("raw", "") + "".join(_plain(child) for child in token.get("children", []))


def _escape_line_start(line: str) -> str:
    # A line starting with `.`, `:`, `//`, `=`, `-`, `'` or `!` may mean a block title, attribute, comment,
    # heading, list or delimiter to AsciiDoc.
    if line and line[0] in _LEADING:
        return f"&#{ord(line[0])};{line[1:]}"
    return line


class MarkdownToAsciidoc:
    """Converts Markdown strings to AsciiDoc; keeps, across calls, whether the document already has a title."""

    def __init__(self) -> None:
        self._parse = mistune.create_markdown(renderer=None, plugins=["table", "strikethrough"])
        self.has_title = False

    def __call__(self, markdown: str) -> str:
        tokens = self._parse(markdown)
        assert isinstance(tokens, list)
        return self._blocks(tokens).strip("\n") + "\n"

    # Blocks -----------------------------------------------------------------------------------------------
    def _blocks(self, tokens: list[Token]) -> str:
        parts = [self._block(token) for token in tokens]
        return "\n\n".join(part for part in parts if part)

    def _block(self, token: Token) -> str:
        kind = token["type"]
        handler: Callable[[Token], str] | None = getattr(self, f"_block_{kind}", None)
        if handler is not None:
            return handler(token)
        if "children" in token:
            return self._blocks(token["children"])
        return escape(token.get("raw", ""))

    def _block_blank_line(self, token: Token) -> str:
        return ""

    def _block_heading(self, token: Token) -> str:
        level = int(token["attrs"]["level"])
        if level == 1 and not self.has_title:
            self.has_title = True
            marks = "="
        else:
            marks = "=" * max(level, 2)
        return f"{marks} {self._inline(token['children'])}"

    def _block_paragraph(self, token: Token) -> str:
        text = self._inline(token["children"])
        return "\n".join(_escape_line_start(line) for line in text.split("\n"))

    _block_block_text = _block_paragraph

    def _block_thematic_break(self, token: Token) -> str:
        return "'''"

    def _block_block_code(self, token: Token) -> str:
        info = (token.get("attrs") or {}).get("info") or ""
        language = info.split()[0] if info.strip() else ""
        header = f"[source,{language}]\n" if language else ""
        body = token.get("raw", "").rstrip("\n")
        return f"{header}----\n{body}\n----"

    def _block_block_quote(self, token: Token) -> str:
        return f"____\n{self._blocks(token['children'])}\n____"

    def _block_block_html(self, token: Token) -> str:
        return f"....\n{token.get('raw', '').strip()}\n...."

    def _block_list(self, token: Token, depth: int = 1) -> str:
        marker = ("." if token["attrs"].get("ordered") else "*") * depth
        items = []
        for item in token["children"]:
            lines: list[str] = []
            for child in item.get("children", []):
                if child["type"] == "list":
                    lines.append(self._block_list(child, depth + 1))
                elif child["type"] == "blank_line":
                    continue
                elif not lines:
                    lines.append(
                        f"{marker} {self._inline(child.get('children', [])).replace(chr(10), ' ')}"
                    )
                else:
                    lines.append(f"+\n{self._block(child)}")
            items.append("\n".join(lines) if lines else f"{marker} {{empty}}")
        return "\n".join(items)

    def _block_table(self, token: Token) -> str:
        head: list[Token] = []
        rows: list[list[Token]] = []
        for part in token["children"]:
            if part["type"] == "table_head":
                head = part["children"]
            else:
                rows.extend(row["children"] for row in part["children"])
        align = {None: "<", "left": "<", "right": ">", "center": "^"}
        columns = head or (rows[0] if rows else [])
        # Column widths in proportion to each column's longest text (within limits), so short numbers do not
        # take as much room as names.
        widths = [
            min(max((len(_plain(row[i])) for row in [head, *rows] if i < len(row)), default=1), 40)
            for i in range(len(columns))
        ]
        cols = ",".join(
            f"{align.get(cell['attrs'].get('align'), '<')}{max(width, 3)}"
            for cell, width in zip(columns, widths, strict=True)
        )
        lines = [
            f'[cols="{cols}",options="header",width="100%"]' if head else f'[cols="{cols}"]',
            "|===",
        ]
        if head:
            lines.append(" ".join(f"|{self._inline(cell['children'])}" for cell in head))
            lines.append("")
        for row in rows:
            lines.append(" ".join(f"|{self._inline(cell['children'])}" for cell in row))
        lines.append("|===")
        return "\n".join(lines)

    # Inlines ----------------------------------------------------------------------------------------------
    def _inline(self, tokens: list[Token]) -> str:
        return "".join(self._inline_token(token) for token in tokens)

    def _inline_token(self, token: Token) -> str:
        kind = token["type"]
        children = token.get("children", [])
        if kind == "text":
            return escape(token["raw"])
        if kind == "emphasis":
            return f"__{self._inline(children)}__"
        if kind == "strong":
            return f"**{self._inline(children)}**"
        if kind == "strikethrough":
            return f"[.line-through]##{self._inline(children)}##"
        if kind == "codespan":
            return f"``{escape(token['raw'])}``"
        if kind == "softbreak":
            return " "
        if kind == "linebreak":
            return " +\n"
        if kind == "link":
            url = token["attrs"]["url"]
            text = self._inline(children).replace(",", "&#44;").replace("=", "&#61;") or escape(url)
            return f"link:++{url}++[{text}]"
        if kind == "image":
            url = token["attrs"]["url"]
            alt = escape("".join(child.get("raw", "") for child in children)).replace(",", "&#44;")
            return f"image:++{url}++[{alt}]"
        if kind == "inline_html":
            raw = token.get("raw", "")
            return " +\n" if raw.strip().lower() in {"<br>", "<br/>", "<br />"} else escape(raw)
        if children:
            return self._inline(children)
        return escape(token.get("raw", ""))

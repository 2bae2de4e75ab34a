"""Vietnamese text in Python source that would bypass the catalogue (for the i18n tests)."""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from pathlib import Path

VIETNAMESE = re.compile(
    r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]", re.IGNORECASE
)


def vietnamese_literals(path: Path, *, data: Collection[str] = ()) -> list[str]:
    """``file:line: 'text'`` for each string literal of ``path`` with Vietnamese letters in it, its
    docstrings and the strings of ``data`` (data, not text for a reader) left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value not in data
        and VIETNAMESE.search(node.value)
    ]

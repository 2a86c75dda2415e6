"""A digest of what the planner's code does, for the plan digests (``planner._code``).

A plan remembers the code it was made by, so that a release with a changed rule replans
everybody once. The text of the code changes far more often than what it does: a reworded
comment or docstring, a narrower type, a reformatted line. Each of those made the next safety
net replan every membership (10,000 of them: seconds of CPU and ~10 MB that stays). The digest is
therefore taken of the code's syntax tree without docstrings and annotations: comments and
layout are not in the tree at all. Annotations that change what a class is (``ClassVar``,
``InitVar``, a dataclass field turned into a class attribute) are kept.
"""

from __future__ import annotations

import ast
import hashlib
import textwrap

# An annotation mentioning one of these changes behaviour (dataclass fields): it is kept.
_MEANINGFUL = ("ClassVar", "InitVar", "KW_ONLY")
_PLACEHOLDER = ast.Constant(value=None)


def behaviour_digest(*sources: str) -> bytes:
    """16 bytes that change when the code in ``sources`` could do something else."""
    digest = hashlib.blake2b(digest_size=16)
    for source in sources:
        digest.update(ast.dump(_without_reader_only(ast.parse(textwrap.dedent(source)))).encode())
        digest.update(b"\0")
    return digest.digest()


def _without_reader_only(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            _drop_docstring(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                        arguments.vararg, arguments.kwarg):
                if arg is not None:
                    arg.annotation = None
        elif isinstance(node, ast.AnnAssign) and not _meaningful(node.annotation):
            node.annotation = _PLACEHOLDER
    return tree


def _drop_docstring(node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef,
                    ) -> None:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]


def _meaningful(annotation: ast.expr) -> bool:
    return any(word in ast.unparse(annotation) for word in _MEANINGFUL)

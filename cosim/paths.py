"""Names and references: how ``"component.variable"`` paths are written and read.

Component, system and port names are any non-empty string without control
characters, as SSP allows (``DP Controller``, ``rollback-end``, ``1st``,
``a.b``), and FMU variable names may hold dots and brackets (``der(x)``,
``body.frame_a.r[2]``).  A reference names a variable by its component's
path (the names of nested systems and the component, joined by dots), a dot,
and the variable name:

- **Plain** ``"spindle.speed"``, ``"DP Controller.y"``,
  ``"line2.spindle.speed"``, ``"pendulum.body.r[1]"``: the component path is
  the one that exists and is followed by a dot; the variable name, the rest,
  may hold dots.  Where two readings exist (component ``a.b`` with variable
  ``c``, and component ``a`` with variable ``b.c``), the reference is refused
  with an :class:`~cosim.errors.AmbiguousReferenceError` naming both.
- **Quoted** ``'"a.b".c'``, ``"'a.b'.c"``, ``'"a".b.c'``,
  ``'line."DP Controller".y'``: a segment in double or single quotes is one
  name, dots and all (a quote character inside is doubled), and the component
  path ends with the last quoted segment; the variable name after it is taken
  as written.  This form suits the command line
  (``--record "'DP Controller'.y"``).
- **Tuple** (Python) ``("a.b", "c")``, ``("line", "a.b", "c")``: the items
  are names, the last one the variable (in a nested system, the reference
  inside it).  Variable names that begin with a quoted part, as Modelica's
  quoted identifiers do, are given this way.

A bare name (or a 1-tuple) is a port of the system.  A component path is
known by its text: ``("line", "a.b", "c")`` and ``("line.a", "b", "c")`` name
the same path, so a system refuses two components whose paths read alike.
"""

from __future__ import annotations

import unicodedata

from cosim.errors import SystemStructureError

__all__ = ["QUOTES", "check_name", "collision", "explicit", "partition", "quote", "readings",
           "reference", "safe_name", "text"]

QUOTES = "\"'"


def check_name(name, *, what: str = "name") -> str:
    """``name`` if it can name an element; SystemStructureError otherwise.

    Any non-empty string is a name, except one holding control characters
    (line breaks, tabs, NUL), which no reference or file could carry intact.
    """
    if not isinstance(name, str) or not name:
        raise SystemStructureError(f"{what} {name!r} is not valid: give a non-empty string")
    bad = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise SystemStructureError(f"{what} {name!r} is not valid: it holds the control "
                                   f"character {bad!r}")
    return name


def safe_name(text: str, *, default: str = "component") -> str:
    """A valid name made from ``text`` (a file name, a model identifier):
    control characters become underscores, nothing becomes ``default``."""
    name = "".join("_" if unicodedata.category(c) == "Cc" else c for c in text)
    return name or default


def quote(name: str) -> str:
    """``name`` as one quoted segment: ``a.b`` -> ``"a.b"`` (quotes inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def collision(system: str, path: str, first: tuple, second: tuple) -> SystemStructureError:
    """The error for two components, given by their names from ``system``
    down (``("a.b",)``, ``("a", "b")``), whose paths both read ``path``."""
    return SystemStructureError(f"system '{system}': {_component(first)} and {_component(second)} "
                                f"both have the path '{path}', so no reference can tell them "
                                "apart; rename one")


def _component(names: tuple) -> str:
    """``("x", "a", "b")`` -> "component 'b' of the nested system 'a' in 'x'"."""
    inside = " in ".join(repr(n) for n in reversed(names[:-1]))
    return f"component {names[-1]!r}" + (f" of the nested system {inside}" if inside else "")


def explicit(path: str, variable: str = "") -> str:
    """The quoted form of a reference, which never needs a system to be read."""
    return f"{quote(path)}.{variable}" if variable else quote(path)


def reference(path: str, variable: str = "", *, exists=None) -> str:
    """The text of a reference to ``variable`` of the component at ``path``
    (to the port ``path`` when ``variable`` is empty): plain where that reads
    back to the same thing, quoted where it would not.

    ``exists(p)`` tells whether an element path ``p`` exists in the system:
    the plain text is quoted when another reading of it would name one.
    """
    plain = f"{path}.{variable}" if variable else path
    if path[:1] in QUOTES:
        return explicit(path, variable)
    if exists is not None:
        others = [plain[:i] for i, c in enumerate(plain) if c == "." and i != len(path)]
        if variable:
            others.append(plain)
        if any(exists(other) for other in others):
            return explicit(path, variable)
    return plain


def readings(ref) -> list[tuple[str, str]]:
    """Every (component path, variable) a reference can mean, longest path first.

    A plain string gives one reading per dot (and itself with no variable, a
    port); a quoted string or a tuple gives exactly one.

    Raises
    ------
    SystemStructureError
        An empty reference, a tuple holding something other than names, or an
        unterminated quote.
    """
    if isinstance(ref, str):
        if not ref:
            raise SystemStructureError("an empty reference names nothing; write "
                                       "'component.variable'")
        return _parse(ref)
    parts = tuple(ref) if isinstance(ref, (tuple, list)) else ()
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise SystemStructureError(f"{ref!r} is not a reference: give 'component.variable' "
                                   "or a tuple of names such as ('component', 'variable')")
    return [(".".join(parts[:-1]), parts[-1])] if len(parts) > 1 else [(parts[0], "")]


def text(ref) -> str:
    """The plain text of a reference (path and variable joined by a dot)."""
    path, variable = readings(ref)[0]
    return f"{path}.{variable}" if variable else path


def partition(text_: str, separator: str) -> tuple[str, str, str]:
    """``str.partition`` at the first ``separator`` outside quoted segments
    (``'"a=b".k=1'`` -> ``('"a=b".k', '=', '1')``)."""
    i, n = 0, len(text_)
    while i < n:
        if text_[i] in QUOTES and (i == 0 or text_[i - 1] == "."):
            end = _quoted_end(text_, i)
            if end is not None:
                i = end
                continue
        if text_.startswith(separator, i):
            return text_[:i], separator, text_[i + len(separator):]
        i += 1
    return text_, "", ""


def _quoted_end(text_: str, start: int) -> int | None:
    """Index after the quoted segment opening at ``start``, or None if unterminated."""
    q, j = text_[start], start + 1
    while True:
        k = text_.find(q, j)
        if k < 0:
            return None
        if text_[k + 1:k + 2] != q:
            return k + 1
        j = k + 2


def _parse(ref: str) -> list[tuple[str, str]]:
    names: list[str] = []
    splits: list[tuple[str, str]] = []
    quoted, i, n = None, 0, len(ref)
    while i < n:
        if ref[i] in QUOTES:
            end = _quoted_end(ref, i)
            # A quoted segment is a path name only when a dot (or the end) follows it;
            # otherwise it begins a variable name written as the FMU spells it.
            if end is None or (end < n and ref[end] != "."):
                if not names:
                    raise SystemStructureError(
                        f"{ref!r}: the quote opening it is not closed before a dot; quote a "
                        "name as \"a.b\" (a quote inside doubled) or give a tuple of names")
                break
            names.append(ref[i + 1:end - 1].replace(ref[i] * 2, ref[i]))
            quoted = len(names)
        else:
            end = ref.find(".", i)
            end = n if end < 0 else end
            names.append(ref[i:end])
        i = end + 1
        splits.append((".".join(names), ref[i:] if i <= n else ""))
    if quoted is not None:
        return [splits[quoted - 1]]
    return splits[::-1]

"""Where the files a system file refers to may lie.

A system file names other files: component FMUs, parameter values (SSV),
parameter mappings (SSM), OSP model descriptions.  Read on a user's own
machine, any path is fine.  Read by a server for a client, a reference to
``/etc/...``, ``file:///...`` or ``../../...`` would let the client read, or
probe for, the server's files through the error messages.  A
:class:`Confinement` given to the readers (``read(..., confine_to=...)``)
refuses every reference that does not stay inside one folder: the unpacked
archive for an ``.ssp``, the given root for a bare ``.ssd`` or OSP file.

A refused reference raises :class:`ReferenceRefused` before the target is
looked at, so the message is the same whether it exists or not, and says
nothing of its contents.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlparse

from cosim.errors import SspError

__all__ = ["Confinement", "ReferenceRefused"]

# Longest piece of a client's reference repeated in a message.
_SHOWN = 200


class ReferenceRefused(SspError):
    """A system file refers to a file outside the folder it is confined to,
    or to a network source that is not allowed."""


def shown(text: str, limit: int = _SHOWN) -> str:
    """``repr(text)``, cut to about ``limit`` characters: a client's input
    repeated in a message stays short."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


class Confinement:
    """Files may be referred to only inside ``root`` (after following links).

    ``label`` names the folder in messages ("the server's root directory").
    ``allow_remote`` lets components be ``grpc://`` twins, which a server
    would otherwise connect to, with its own token, on a client's word.
    """

    def __init__(self, root, *, label: str | None = None, allow_remote: bool = False):
        self.root = Path(root).resolve()
        self.label = label or f"the folder {self.root}"
        self.allow_remote = allow_remote

    def within(self, folder, label: str) -> Confinement:
        """The same policy for another folder (an unpacked archive)."""
        return Confinement(folder, label=label, allow_remote=self.allow_remote)

    def refuse(self, reference: str, why: str | None = None) -> ReferenceRefused:
        """The error refusing ``reference``; ``why`` defaults to leading outside the root."""
        why = why or (f"it leads outside {self.label}; name files by paths relative to the "
                      "system file that stay inside it")
        return ReferenceRefused(f"reference {shown(reference)} is refused: {why}")

    def resolve(self, reference: str, base) -> Path:
        """The file ``reference`` (a relative path or relative URI, as written in
        a file in folder ``base``) names, if it lies inside the root.

        Raises
        ------
        ReferenceRefused
            For a ``file:`` or other URI, an absolute path, a path leading
            out of the root, or one whose links lead out of it.
        """
        text = str(reference)
        parsed = urlparse(text)
        if parsed.scheme or parsed.netloc:
            raise self.refuse(text, f"a {parsed.scheme or 'network'} URI may name a file "
                                    f"outside {self.label}; give a relative path")
        relative = unquote(text)
        if "\0" in relative or PurePosixPath(relative).is_absolute() or \
                PureWindowsPath(relative).anchor:
            raise self.refuse(text, f"an absolute path may name a file outside {self.label}; "
                                    "give a relative path")
        return self.inside(Path(base).resolve() / relative, text)

    def inside(self, path, reference: str) -> Path:
        """``path`` (absolute) with its links followed, if it lies inside the root;
        ReferenceRefused naming ``reference`` otherwise."""
        # Lexically first, so that no file outside is even looked at; then
        # with links followed.
        joined = Path(os.path.normpath(path))
        if not joined.is_relative_to(self.root):
            raise self.refuse(reference)
        return self.check(joined, reference)

    def check(self, path, reference: str) -> Path:
        """``path`` with its links followed, if it lies inside the root (a file
        a reader found by itself, such as an OSP model description beside an
        FMU); ReferenceRefused naming ``reference`` otherwise."""
        try:
            real = Path(path).resolve()
        except (OSError, RuntimeError):       # a loop of links
            raise self.refuse(reference) from None
        if not real.is_relative_to(self.root):
            raise self.refuse(reference)
        return real

    def remote(self, source: str) -> str:
        """``source`` (a grpc:// URL) if remote components are allowed."""
        if not self.allow_remote:
            raise self.refuse(source, "components behind gRPC endpoints are not allowed here "
                                      "(the server option --allow-remote-components allows them)")
        return source

"""Registry of what the graph refers to but does not know: source schemes and actions.

A :class:`~cosim.system.System` is data: it imports nothing from the master,
the file formats or the network.  The layers above it fill this registry:

- **source schemes**: a component source written as text with a registered
  prefix (``grpc://...``) is opened by the scheme's opener into a
  :class:`~cosim.component.RuntimeSource` when the component is added;
- **actions**: ``System.simulate``, ``System.start`` and ``System.save`` call
  the action of that name, so that they stay conveniences of the graph.

``import cosim`` registers the project's own (lazily: registering imports
nothing heavy).
"""

from __future__ import annotations

from typing import Callable

from cosim.errors import ConfigurationError

__all__ = ["action", "opener_for", "register_action", "register_scheme"]

_SCHEMES: dict[str, Callable] = {}
_ACTIONS: dict[str, Callable] = {}


def register_scheme(prefix: str, opener: Callable) -> None:
    """Sources that start with ``prefix`` are opened by ``opener(text, *, token, name)``."""
    _SCHEMES[prefix] = opener


def opener_for(source) -> Callable | None:
    """The opener of a text source's scheme, or None (a file path or another object)."""
    if isinstance(source, str):
        for prefix, opener in _SCHEMES.items():
            if source.startswith(prefix):
                return opener
    return None


def register_action(name: str, function: Callable) -> None:
    """``System.<name>(...)`` calls ``function(system, ...)``."""
    _ACTIONS[name] = function


def action(name: str) -> Callable:
    """The function registered for ``name``; ConfigurationError if none is."""
    try:
        return _ACTIONS[name]
    except KeyError:
        raise ConfigurationError(f"nothing is registered to {name} systems; "
                                 "import cosim to register the project's own") from None

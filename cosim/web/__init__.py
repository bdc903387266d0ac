"""The live view in the browser: hosted systems, their topology, live plots
and controls, served by a Bokeh server inside the process that hosts them
(``cosim serve --http-port``, ``cosim dashboard``).

Modules: :mod:`~cosim.web.server` (the Bokeh server on its own thread),
:mod:`~cosim.web.auth` (the token), :mod:`~cosim.web.feed` and
:mod:`~cosim.web.tap` (what the view reads, off the stepping loop),
:mod:`~cosim.web.page` and :mod:`~cosim.web.plots` (the page),
:mod:`~cosim.web.actions` (the controls, as Orchestrator calls),
:mod:`~cosim.web.local` (:func:`show`: a program's own live twin).
Needs the ``web`` extra (``pip install cosim[web]``: Bokeh).
"""

from cosim.web.local import show
from cosim.web.server import WebServer

__all__ = ["WebServer", "show"]

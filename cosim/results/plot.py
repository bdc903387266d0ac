"""Plots of results: one panel per unit, stacked on a shared time axis."""

from __future__ import annotations

from pathlib import Path

from cosim.errors import MissingExtraError, ResultFileError
from cosim.results.writers import check_writable

__all__ = ["NO_UNIT", "check_plot_file", "panels", "plot_result"]

#: The label of the panel of variables whose models declare no unit.
NO_UNIT = "no unit"
PANEL_HEIGHT = 2.4      # inches per panel
WIDTH = 10.0


def _columns(result, variables) -> list[str]:
    """The column names to draw: every column, or those of the given references
    (an array gives its element columns).  KeyError names close matches."""
    if variables is None:
        return list(result.names)
    chosen = []
    for variable in variables:
        name = result.column(variable)
        names = ([result.names[i] for i in result.arrays[name][1]] if name in result.arrays
                 else [name])
        chosen += [n for n in names if n not in chosen]
    return chosen


def panels(result, names: list[str]) -> dict[str, list[str]]:
    """Unit (or :data:`NO_UNIT`) -> the columns drawn in its panel, in the order first seen."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(result.unit(name) or NO_UNIT, []).append(name)
    return groups


def plot_result(result, variables=None, path=None):
    """The figure of :meth:`cosim.results.Result.plot`; saved to ``path`` if given."""
    Figure = _matplotlib().Figure
    groups = panels(result, _columns(result, variables))
    figure = Figure(figsize=(WIDTH, 1.0 + PANEL_HEIGHT * max(len(groups), 1)),
                    layout="constrained")
    axes = figure.subplots(max(len(groups), 1), 1, sharex=True, squeeze=False)[:, 0]
    time = result.time
    for ax, (unit, names) in zip(axes, groups.items()):
        for name in names:
            values = result[name]
            # integers and booleans hold their value until the next row
            style = "steps-post" if values.dtype.kind in "iub" else "default"
            ax.plot(time, values.astype(float), label=name, drawstyle=style)
        ax.set_ylabel(unit if unit == NO_UNIT else f"[{unit}]")
        ax.legend(loc="best", fontsize="small")
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    if path is not None:
        _save(figure, path)
    return figure


def _matplotlib():
    try:
        import matplotlib.figure
    except ImportError as exc:
        raise MissingExtraError("plotting needs matplotlib; install it with "
                                "pip install 'cosim[plot]'") from exc
    return matplotlib.figure


def check_plot_file(path) -> Path:
    """``path`` as a Path, or ResultFileError when its folder does not exist or its
    extension names no image format that matplotlib writes."""
    path = check_writable(path)
    formats = _matplotlib().Figure().canvas.get_supported_filetypes()
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise ResultFileError(f"plot file {path}: '{suffix or 'no extension'}' is not an image "
                              f"format matplotlib writes; use one of "
                              f"{', '.join('.' + f for f in sorted(formats))}")
    return path


def _save(figure, path) -> None:
    path = check_plot_file(path)
    try:
        figure.savefig(path, dpi=100)
    except OSError as exc:
        raise ResultFileError(f"image {path} cannot be written: {exc.strerror or exc}") from None

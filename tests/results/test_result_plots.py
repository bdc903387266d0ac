"""Result.plot: one panel per unit on a shared time axis, saved as an image."""

import matplotlib.image
import numpy as np
import pytest

from cosim import System, twins
from cosim.errors import ResultFileError
from cosim.results import Result, read_result
from cosim.results.cells import encode
from cosim.results.plot import NO_UNIT


def spindle_result(path=None) -> Result:
    system = System("cell")
    system.add("spindle", twins.path("spindle"))
    system.add("belt", twins.path("conveyor"))
    return system.simulate(stop_time=1.0, step_size=0.05, output_file=path)


def panel_lines(figure) -> dict:
    return {ax.get_ylabel(): [line.get_label() for line in ax.get_lines()] for ax in figure.axes}


def test_one_panel_per_unit_sharing_the_time_axis(tmp_path):
    result = spindle_result()
    figure = result.plot()
    panels = panel_lines(figure)
    units = {result.units[i] or NO_UNIT for i in range(len(result.names))}
    assert set(panels) == {u if u == NO_UNIT else f"[{u}]" for u in units}
    assert sorted(sum(panels.values(), [])) == sorted(result.names)
    assert "spindle.motor_power" in panels["[W]"] and "belt.motor_power" in panels["[W]"]
    first = figure.axes[0]
    assert all(ax.get_shared_x_axes().joined(first, ax) for ax in figure.axes)
    assert figure.axes[-1].get_xlabel() == "time [s]"
    assert all(ax.get_legend() is not None for ax in figure.axes)
    line = figure.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), result.time)


def test_chosen_variables_and_the_saved_image(tmp_path):
    result = spindle_result()
    path = tmp_path / "speed.png"
    figure = result.plot(["spindle.speed", "belt.motor_power", "spindle.motor_power"], path=path)
    assert panel_lines(figure) == {"[rpm]": ["spindle.speed"],
                                   "[W]": ["belt.motor_power", "spindle.motor_power"]}
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 500
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_units_come_back_from_parquet_and_mat_files(tmp_path):
    for suffix in (".parquet", ".mat"):
        path = tmp_path / f"run{suffix}"
        result = spindle_result(path)
        assert panel_lines(read_result(path).plot()) == panel_lines(result.plot()), suffix


def test_a_csv_file_has_no_units_so_one_panel():
    result = Result(["a", "b"])
    result.append(np.array([0.0, 1.0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert panel_lines(result.plot()) == {NO_UNIT: ["a", "b"]}


def test_integers_and_booleans_are_drawn_as_steps():
    result = Result(["n", "on"], types=["int32", "bool"], units=["1", None])
    t = np.array([0.0, 1.0, 2.0])
    result.append(t, np.column_stack([encode([1, 2, 3], "int32"),
                                      encode([True, False, True], "bool")]))
    figure = result.plot()
    assert [ax.get_lines()[0].get_drawstyle() for ax in figure.axes] == ["steps-post"] * 2


def test_a_variable_not_recorded_names_close_matches():
    result = spindle_result()
    with pytest.raises(KeyError, match=r"'spindle.sped' was not recorded \(did you mean "
                                        r"'spindle.speed'"):
        result.plot(["spindle.sped"])


def test_bad_image_paths_are_refused_before_drawing(tmp_path):
    result = spindle_result()
    with pytest.raises(ResultFileError, match="not an image format"):
        result.plot(path=tmp_path / "plot.csv")
    with pytest.raises(ResultFileError, match="does not exist"):
        result.plot(path=tmp_path / "nowhere" / "plot.png")

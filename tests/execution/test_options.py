"""Options as data: one place checks every option, keywords are a thin layer over it."""

import pytest

from cosim import ConfigurationError, System, twins
from cosim.execution import Options


def gains():
    system = System("two")
    system.add("g1", twins.path("gain", "2.0"), parameters={"k": 2.0, "u": 0.5})
    system.add("g2", twins.path("gain", "2.0"), parameters={"k": 3.0})
    system.connect("g1.y", "g2.u")
    return system


def test_keywords_are_grouped_by_concern_and_come_back_the_same():
    options = Options.from_keywords(step_size=0.1, stop_time=2.0, algorithm="gauss-seidel",
                                    variable_step=True, rtol=1e-3, record=["g2.y"],
                                    realtime=False, overrun="stop")
    assert options.coupling.algorithm == "gauss-seidel"
    assert options.step_control.rtol == 1e-3
    assert options.recording.record == ["g2.y"]
    assert options.realtime.factor is None and options.realtime.overrun == "stop"
    assert Options.from_keywords(**options.keywords()) == options
    assert Options.from_keywords(step_size=0.1, realtime=True).realtime.factor == 1.0


def test_a_simulation_takes_options_and_keywords_that_replace_them():
    options = Options.from_keywords(step_size=0.1, stop_time=1.0, record=["g2.y"])
    with gains().start(options=options, stop_time=0.5) as sim:
        result = sim.run()
        assert sim.options.stop_time == 0.5 and sim.options.recording.record == ["g2.y"]
    assert result.names == ["g2.y"]
    assert result["g2.y"][-1] == pytest.approx(3.0)
    assert result.time[-1] == pytest.approx(0.5)


def test_an_unknown_option_is_named_with_the_closest_one():
    with pytest.raises(ConfigurationError, match=r"unknown option 'stop_tme'; did you mean 'stop_time'"):
        gains().simulate(step_size=0.1, stop_tme=1.0, stop_time=1.0)
    with pytest.raises(ConfigurationError, match="unknown option 'colour'$"):
        Options.from_keywords(step_size=0.1, colour="red")
    with pytest.raises(ConfigurationError, match="step_size is required"):
        Options.from_keywords(stop_time=1.0)


@pytest.mark.parametrize("keywords, message", [
    ({"algorithm": "newton"}, "algorithm must be one of jacobi, gauss-seidel"),
    ({"extrapolation": "spline"}, "extrapolation must be one of zoh, foh"),
    ({"rtol": -1.0}, "rtol must be a positive number"),
    ({"atol": float("nan")}, "atol must be a positive number"),
    ({"loop_tolerance": True}, "loop_tolerance must be a positive number"),
    ({"tolerance": 0.0}, "tolerance must be a positive number"),
    ({"loop_max_iterations": 2.5}, "loop_max_iterations must be a positive integer"),
    ({"threads": 0}, "threads must be a positive integer"),
    ({"threads": 2, "algorithm": "gauss-seidel"}, "needs algorithm='jacobi'"),
    ({"realtime": "fast"}, "realtime must be True, False or a real-time factor"),
    ({"realtime": -2.0}, "real-time factor must be a finite number > 0"),
    ({"realtime": True, "variable_step": True}, "cannot be combined with variable_step"),
    ({"overrun": "ignore"}, "overrun must be one of skip, slow, stop"),
    ({"max_lateness": -0.1}, "max_lateness must be a finite number >= 0"),
    ({"step_multiples": {"g2": 0}}, "step_multiples: g2 must step every whole number"),
    ({"step_multiples": {"g2": 2}, "variable_step": True}, "need a fixed base step"),
    ({"stop_time": -1.0}, r"stop_time \(-1.0\) must be after start_time"),
    ({"threads": 10**6}, "threads must be at most 256"),
    ({"variable_step": "false"}, "variable_step must be True or False"),
    ({"profile": 1}, "profile must be True or False"),
    ({"step_multiples": [1, 2]}, "step_multiples must be a dict"),
    ({"record": 5}, "record must be a reference or a list"),
    ({"loop_max_iterations": 10**20}, "loop_max_iterations must be a whole number from 1 to"),
    ({"isolate": True, "call_timeout": 1e300}, "call_timeout must be at most"),
    ({"step_size": float("inf")}, "step_size must be a finite number"),
])
def test_each_bad_option_is_named(keywords, message):
    keywords = {"step_size": 0.1, "stop_time": 1.0, **keywords}
    with pytest.raises(ConfigurationError, match=message):
        Options.from_keywords(**keywords)
    with pytest.raises(ConfigurationError, match=message):      # the same through the API
        gains().simulate(**keywords)


def test_options_that_need_the_system_are_checked_against_it():
    with pytest.raises(ConfigurationError, match="step_multiples: no component 'g3'"):
        gains().simulate(step_size=0.1, stop_time=1.0, step_multiples={"g3": 2})


def test_an_output_file_that_is_not_a_path_is_named_and_nothing_is_written(tmp_path):
    with pytest.raises(ConfigurationError, match="a result file is a path or a ResultWriter, not int 5"):
        gains().simulate(step_size=0.1, stop_time=1.0, output_file=5)


def test_a_run_refused_before_it_starts_leaves_an_existing_output_file_alone(tmp_path):
    out = tmp_path / "kept.csv"
    out.write_text("keep\n")
    with pytest.raises(ConfigurationError, match="call_timeout bounds isolated components"):
        gains().simulate(step_size=0.1, stop_time=1.0, call_timeout=1.0, output_file=out)
    assert out.read_text() == "keep\n"

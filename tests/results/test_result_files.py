"""Result files by extension: CSV, Parquet, MAT, written as the run goes and read back."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.io

import cosim
from cosim import System, twins
from cosim.errors import ConfigurationError, FmiCallError, MissingExtraError, ResultFileError
from cosim.results import CsvWriter, MatWriter, ParquetWriter, read_result, writer_for
from cosim.results.parquet_file import ROW_GROUP_CELLS, ROW_GROUP_MAX_ROWS, ROW_GROUP_ROWS

FORMATS = [".csv", ".parquet", ".mat"]


def spindle_system() -> System:
    system = System("cell")
    system.add("spindle", twins.path("spindle"))
    return system


def run_spindle(path, stop_time=1.0, step_size=0.01):
    return spindle_system().simulate(stop_time=stop_time, step_size=step_size, output_file=path)


def test_the_writer_is_chosen_by_the_extension(tmp_path):
    for name, kind in [("a.csv", CsvWriter), ("b.parquet", ParquetWriter), ("c.MAT", MatWriter)]:
        with writer_for(tmp_path / name) as writer:
            assert type(writer) is kind


@pytest.mark.parametrize("name", ["result.txt", "result", "result.parq", "result.h5"])
def test_an_unknown_extension_is_an_error_naming_the_formats(tmp_path, name):
    with pytest.raises(ResultFileError) as caught:
        run_spindle(tmp_path / name)
    message = str(caught.value)
    assert name in message and ".csv, .parquet, .mat" in message
    assert isinstance(caught.value, ConfigurationError)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_folder_that_does_not_exist_is_named(tmp_path, suffix):
    with pytest.raises(ResultFileError, match="the directory .*missing does not exist"):
        run_spindle(tmp_path / "missing" / f"out{suffix}")
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    with pytest.raises(ResultFileError, match="is a directory"):
        writer_for(folder)


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_reads_back_as_the_result(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    result = run_spindle(path)
    back = read_result(path)
    assert back.names == result.names and len(back) == len(result) == 101
    np.testing.assert_array_equal(back.time, result.time)
    for name in result.names:
        np.testing.assert_array_equal(back[name], result[name], err_msg=name)


@pytest.mark.parametrize("suffix", [".parquet", ".mat"])
def test_parquet_and_mat_keep_units_and_descriptions_of_the_models(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    result = run_spindle(path)
    model = cosim.read_model(twins.path("spindle")).variables
    assert result.unit("spindle.speed") == model["speed"].unit == "rpm"
    back = read_result(path)
    for name in result.names:
        var = model[name.split(".", 1)[1]]
        assert back.unit(name) == var.unit, name
        assert back.descriptions[back.names.index(name)] == var.description, name


def test_parquet_fields_carry_unit_and_description_metadata(tmp_path):
    path = tmp_path / "out.parquet"
    run_spindle(path)
    schema = pq.read_schema(path)
    assert schema.field("time").metadata[b"unit"] == b"s"
    speed = schema.field("spindle.speed").metadata
    assert speed[b"unit"] == b"rpm" and speed[b"description"]
    assert schema.metadata[b"producer"] == b"cosim"


def test_parquet_writes_row_groups_as_the_rows_arrive(tmp_path):
    """Row groups of about a million values: few enough that the footer kept in
    memory stays small on long runs, each written once its rows arrived."""
    path = tmp_path / "long.parquet"
    result = run_spindle(path, stop_time=400.0, step_size=0.001)
    assert len(result) == 400001
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_rows == 400001
    assert parquet.num_row_groups >= 2
    columns = parquet.metadata.num_columns
    for i in range(parquet.num_row_groups - 1):
        rows = parquet.metadata.row_group(i).num_rows
        assert ROW_GROUP_ROWS <= rows <= ROW_GROUP_MAX_ROWS
        assert rows * columns >= ROW_GROUP_CELLS


def test_mat_file_has_the_modelica_result_layout(tmp_path):
    path = tmp_path / "out.mat"
    result = run_spindle(path)
    mat = scipy.io.loadmat(path, chars_as_strings=False)
    aclass = ["".join(row).strip() for row in mat["Aclass"]]
    assert aclass == ["Atrajectory", "1.1", "", "binTrans"]
    names = ["".join(col).strip() for col in mat["name"].T]
    assert names == ["time", *result.names]
    texts = ["".join(col).strip() for col in mat["description"].T]
    assert texts[0] == "simulation time [s]" and texts[1].endswith("[rpm]")
    np.testing.assert_array_equal(mat["dataInfo"][:, 0], [0, 1, 0, -1])
    np.testing.assert_array_equal(mat["dataInfo"][:2, 1:].T,
                                  [[2, k + 2] for k in range(len(result.names))])
    np.testing.assert_array_equal(mat["data_1"].ravel(), [0.0, 1.0])
    np.testing.assert_array_equal(mat["data_2"][0], result.time)
    np.testing.assert_array_equal(mat["data_2"][1], result["spindle.speed"])


@pytest.mark.parametrize("suffix", [".csv", ".mat"])
def test_csv_and_mat_files_are_readable_while_the_run_goes(tmp_path, suffix):
    path = tmp_path / f"live{suffix}"
    sim = spindle_system().start(step_size=0.1, stop_time=1.0, output_file=path)
    try:
        sim.step(3)
        during = read_result(path)      # each step hands its rows to the file
        assert len(during) == len(sim.result) == 4
        np.testing.assert_array_equal(during.time, sim.result.time)
        sim.step(4)
    finally:
        result = sim.stop()
    after = read_result(path)
    np.testing.assert_array_equal(after.time, result.time)
    assert len(after) > len(during)


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_failed_run_leaves_a_readable_partial_file(tmp_path, test_fmus, suffix):
    path = tmp_path / f"partial{suffix}"
    system = System("s")
    system.add("fg", test_fmus("failing_gain"), parameters={"fail_time": 0.55})
    with pytest.raises(FmiCallError) as caught:
        system.simulate(stop_time=2.0, step_size=0.1, output_file=path)
    partial = read_result(path)
    np.testing.assert_allclose(partial.time, np.arange(6) * 0.1)
    np.testing.assert_array_equal(partial.time, caught.value.partial_result.time)
    np.testing.assert_array_equal(partial["fg.y"], caught.value.partial_result["fg.y"])


def test_integer_and_boolean_columns_keep_their_types_in_parquet(tmp_path, test_fmus):
    system = System("s")
    system.add("t", test_fmus("all_types", "3.0"))
    path = tmp_path / "types.parquet"
    result = system.simulate(stop_time=0.5, step_size=0.1, output_file=path)
    back = read_result(path)
    assert back.types == result.types and len(set(result.types)) > 3
    for name in result.names:
        np.testing.assert_array_equal(back[name], result[name], err_msg=name)
        assert back[name].dtype == result[name].dtype


@pytest.mark.parametrize("suffix", FORMATS)
def test_save_writes_the_format_of_the_extension(tmp_path, suffix):
    result = run_spindle(None)
    path = tmp_path / f"saved{suffix}"
    result.save(path)
    back = read_result(path)
    np.testing.assert_array_equal(back["spindle.speed"], result["spindle.speed"])
    with pytest.raises(ResultFileError, match="'.xlsx' is not a result format"):
        result.save(tmp_path / "saved.xlsx")


def test_to_pandas_gives_typed_columns_indexed_by_time_with_units():
    pd = pytest.importorskip("pandas", reason="pandas is in the test extra")
    result = run_spindle(None)
    frame = result.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.name == "time" and list(frame.columns) == result.names
    np.testing.assert_array_equal(frame["spindle.speed"].to_numpy(), result["spindle.speed"])
    assert frame.attrs["units"]["spindle.speed"] == "rpm"


def test_to_pandas_without_pandas_names_the_extra(tmp_path):
    import subprocess
    import sys
    code = ("import sys; sys.modules['pandas'] = None\n"
            "from cosim.results import Result\n"
            "try:\n    Result(['a']).to_pandas()\n"
            "except ImportError as e:\n    print(type(e).__name__, e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "MissingExtraError" in done.stdout and "cosim[pandas]" in done.stdout
    assert issubclass(MissingExtraError, ImportError)


@pytest.mark.parametrize("suffix", FORMATS)
def test_corrupt_or_foreign_files_are_reported_by_name(tmp_path, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"\x00\x01 not a result \xff" * 3)
    with pytest.raises(ResultFileError, match=f"result file .*bad{suffix}"):
        read_result(path)
    with pytest.raises(ResultFileError, match="does not exist"):
        read_result(tmp_path / f"missing{suffix}")


def test_a_csv_without_time_is_refused_and_text_reads_as_strings(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ResultFileError, match="no 'time' first column"):
        read_result(path)
    path.write_text('time,y,z\n0,abc,\n1,"a,b",\n')
    result = read_result(path)
    assert result.types == ["string", "string"]
    assert list(result["y"]) == ["abc", "a,b"]
    assert list(result["z"]) == ["", ""]
    path.write_text("time,y\n0,2000-01-01\n")
    with pytest.raises(ResultFileError, match="'y' holds values that are not numbers"):
        read_result(path)


def test_a_mat_file_of_other_matrices_is_refused(tmp_path):
    path = tmp_path / "plain.mat"
    scipy.io.savemat(path, {"time": np.arange(3.0)})
    with pytest.raises(ResultFileError, match="not in the Modelica result layout"):
        read_result(path)

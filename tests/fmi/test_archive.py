"""Opening FMU archives: every bad file is refused with a ModelError that names it."""

import os
import stat
import tempfile
import zipfile

import pytest

import cosim
from cosim import System, read_model, twins
from cosim.fmi.archive import (FmuArchive, UnpackBudget, UnpackLimitError, check_members, declared_size,
                                extract_members)

GAIN_BINARY = "binaries/linux64/gain.so"


def rewrite(source, target, *, drop=(), rename=None, replace=None, extra=()):
    """Copy the zip ``source`` to ``target``, dropping, renaming or replacing entries
    and appending ``extra`` (a list of (name or ZipInfo, data))."""
    rename = rename or {}
    replace = replace or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, zin.read(info))
            zout.writestr(rename.get(info.filename, info.filename), data)
        for name, data in extra:
            zout.writestr(name, data)
    return target


def gain_description():
    with zipfile.ZipFile(twins.path("gain")) as zf:
        return zf.read("modelDescription.xml")


# Each case builds a bad FMU in a folder and returns (path, words the message must contain).

def missing_file(tmp):
    return tmp / "nowhere.fmu", ["not found"]


def a_directory(tmp):
    folder = tmp / "folder.fmu"
    folder.mkdir()
    return folder, ["is not a file"]


def random_bytes(tmp):
    path = tmp / "random.fmu"
    path.write_bytes(os.urandom(4096))
    return path, ["not a zip"]


def truncated_zip(tmp):
    path = tmp / "truncated.fmu"
    path.write_bytes(twins.path("gain").read_bytes()[:4000])
    return path, ["not a zip"]


def no_model_description(tmp):
    return rewrite(twins.path("gain"), tmp / "nomd.fmu", drop={"modelDescription.xml"}), \
        ["no modelDescription.xml"]


def malformed_xml(tmp):
    broken = gain_description()[:200]                 # cut inside the root element
    return rewrite(twins.path("gain"), tmp / "malformed.fmu",
                   replace={"modelDescription.xml": broken}), ["invalid modelDescription.xml"]


def fails_schema(tmp):
    invalid = gain_description().replace(b'causality="parameter"', b'causality="knob"', 1)
    assert invalid != gain_description()
    return rewrite(twins.path("gain"), tmp / "schema.fmu",
                   replace={"modelDescription.xml": invalid}), \
        ["invalid modelDescription.xml", "knob"]


def binary_for_windows_only(tmp):
    return rewrite(twins.path("gain"), tmp / "windows.fmu",
                   rename={GAIN_BINARY: "binaries/win64/gain.dll"}), \
        ["no binary for this platform", GAIN_BINARY, "binaries for win64"]


def fmi3_binary_for_windows_only(tmp):
    return rewrite(twins.path("gain", "3.0"), tmp / "windows3.fmu",
                   rename={"binaries/x86_64-linux/gain.so": "binaries/x86_64-windows/gain.dll"}), \
        ["no binary for this platform", "binaries/x86_64-linux/gain.so",
         "binaries for x86_64-windows"]


def no_binaries_at_all(tmp):
    return rewrite(twins.path("gain"), tmp / "nobinary.fmu", drop={GAIN_BINARY}), \
        ["no binary for this platform", "no binaries"]


def sources_only(tmp):
    return rewrite(twins.path("gain"), tmp / "sources.fmu", drop={GAIN_BINARY},
                   extra=[("sources/model.c", b"int x;\n")]), \
        ["no binary for this platform", "sources only"]


def entry_escaping(tmp):
    return rewrite(twins.path("gain"), tmp / "escape.fmu", extra=[("../evil.txt", b"x")]), \
        ["'../evil.txt'", "escapes the FMU folder"]


def entry_escaping_from_a_subfolder(tmp):
    return rewrite(twins.path("gain"), tmp / "escape2.fmu",
                   extra=[("resources/../../evil.txt", b"x")]), ["escapes the FMU folder"]


def entry_with_backslashes(tmp):
    return rewrite(twins.path("gain"), tmp / "backslash.fmu", extra=[("..\\evil.txt", b"x")]), \
        ["evil.txt", "escapes the FMU folder"]


def absolute_entry(tmp):
    return rewrite(twins.path("gain"), tmp / "absolute.fmu", extra=[("/tmp/evil.txt", b"x")]), \
        ["'/tmp/evil.txt'", "escapes the FMU folder"]


def drive_letter_entry(tmp):
    return rewrite(twins.path("gain"), tmp / "drive.fmu", extra=[("C:/evil.txt", b"x")]), \
        ["'C:/evil.txt'", "escapes the FMU folder"]


def symlink_entry(tmp):
    link = zipfile.ZipInfo("resources/passwd")
    link.external_attr = 0o120777 << 16
    return rewrite(twins.path("gain"), tmp / "link.fmu", extra=[(link, "/etc/passwd")]), \
        ["'resources/passwd'", "symbolic link"]


BAD_FMUS = [missing_file, a_directory, random_bytes, truncated_zip, no_model_description,
            malformed_xml, fails_schema, binary_for_windows_only, fmi3_binary_for_windows_only,
            no_binaries_at_all, sources_only, entry_escaping, entry_escaping_from_a_subfolder,
            entry_with_backslashes, absolute_entry, drive_letter_entry, symlink_entry]


@pytest.fixture(params=BAD_FMUS, ids=[f.__name__ for f in BAD_FMUS])
def bad_fmu(request, tmp_path):
    return request.param(tmp_path)


def check_message(error, path, words):
    message = str(error)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_read_model_refuses_a_bad_fmu(bad_fmu):
    path, words = bad_fmu
    with pytest.raises(cosim.ModelError) as caught:
        read_model(path)
    check_message(caught.value, path, words)


def test_system_add_refuses_a_bad_fmu(bad_fmu):
    path, words = bad_fmu
    system = System()
    with pytest.raises(cosim.ModelError) as caught:
        system.add("x", path)
    check_message(caught.value, path, words)
    assert "x" not in system
    assert system.components == {}


def test_system_add_accepts_a_string_path_and_reports_it():
    system = System()
    with pytest.raises(cosim.ModelError, match="not found"):
        system.add("x", "/no/such/dir/model.fmu")
    system.add("x", str(twins.path("gain")))
    assert system.model("x").name == "gain"


def test_size_limit_is_checked_against_the_archive_directory():
    path = twins.path("gain")
    total = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    with pytest.raises(cosim.ModelError) as caught:
        read_model(path, max_bytes=100)
    check_message(caught.value, path, [f"unpacks to {total} bytes", "limit 100"])
    assert read_model(path, max_bytes=total).name == "gain"


def test_size_limit_applies_to_extraction_and_leaves_nothing_behind(monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = twins.path("gain")
    with pytest.raises(cosim.ModelError, match="limit 100"):
        FmuArchive(path, max_bytes=100)
    # With the model already read, the limit is checked while extracting.
    with pytest.raises(cosim.ModelError) as caught:
        FmuArchive(path, model=read_model(path), max_bytes=100)
    check_message(caught.value, path, ["limit 100"])
    assert list(scratch.iterdir()) == []


# -- extraction ----------------------------------------------------------------------


def test_archive_extracts_into_a_private_folder_removed_by_close(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    archive = FmuArchive(twins.path("gain"))
    folder = archive.directory
    assert folder.parent == tmp_path
    assert folder.name.startswith("cosim-gain-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert archive.binary == folder / GAIN_BINARY
    assert archive.binary.is_file()
    assert (folder / "modelDescription.xml").read_bytes() == gain_description()
    assert archive.resources_uri == (folder / "resources").as_uri()
    assert archive.resources_path == str(folder / "resources") + os.sep
    archive.close()
    assert not folder.exists()
    archive.close()                                    # a second close is harmless
    assert list(tmp_path.iterdir()) == []


def test_two_archives_of_one_fmu_do_not_share_folders():
    first = FmuArchive(twins.path("gain"))
    second = FmuArchive(twins.path("gain"))
    try:
        assert first.directory != second.directory
        assert first.binary != second.binary
        first.close()
        assert not first.directory.exists()
        assert second.binary.is_file()                  # untouched by the other's close
    finally:
        first.close()
        second.close()
    assert not second.directory.exists()


def test_archive_refuses_an_unsafe_entry_before_writing_anything(monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path, _ = entry_escaping(tmp_path)
    model = read_model(twins.path("gain"))             # skip read_model's own check
    with pytest.raises(cosim.ModelError, match="escapes the FMU folder"):
        FmuArchive(path, model=model)
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


# -- damaged archives -------------------------------------------------------------------------


def corrupt_binary(tmp):
    """The gain FMU stored uncompressed, with one byte of its binary flipped (bad CRC)."""
    path = tmp / "corrupt.fmu"
    with zipfile.ZipFile(twins.path("gain")) as zin, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(GAIN_BINARY)
        offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 1000
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_archive_with_a_corrupt_member_raises_model_error(tmp_path):
    path = corrupt_binary(tmp_path)
    read_model(path)                                   # the directory and XML are fine
    with pytest.raises(cosim.ModelError) as caught:
        FmuArchive(path)
    check_message(caught.value, path, [GAIN_BINARY])


def test_archive_with_a_file_and_folder_of_one_name_raises_model_error(tmp_path):
    path = rewrite(twins.path("gain"), tmp_path / "collide.fmu",
                   extra=[("resources", b"x"), ("resources/data.txt", b"y")])
    with pytest.raises(cosim.ModelError) as caught:
        FmuArchive(path)
    assert str(path) in str(caught.value)


def test_extraction_counts_the_bytes_it_writes_not_the_headers(tmp_path):
    path = twins.path("gain")
    with zipfile.ZipFile(path) as zf:
        declared = check_members(path, zf, 10**9)
        assert declared == sum(info.file_size for info in zf.infolist())
        # told less than the archive holds (as a lying header would), it stops writing
        with pytest.raises(UnpackLimitError, match=f"more than {declared - 1} bytes"):
            extract_members(path, zf, tmp_path / "short", declared - 1)
        written = sum(f.stat().st_size for f in (tmp_path / "short").rglob("*") if f.is_file())
        assert written <= declared - 1
        assert extract_members(path, zf, tmp_path / "whole", declared) == declared


def test_an_unpack_budget_is_shared_by_archives_and_charged_once_per_file(tmp_path):
    path = twins.path("gain")
    size = declared_size(path)
    budget = UnpackBudget(2 * size + 10, hint=" (raise --limit)")
    budget.charge_archive(path)
    budget.charge_archive(path)                 # the same file again: already held
    assert budget.used == size
    copy = tmp_path / "copy.fmu"
    copy.write_bytes(path.read_bytes())
    budget.charge_archive(copy)
    third = tmp_path / "third.fmu"
    third.write_bytes(path.read_bytes())
    with pytest.raises(UnpackLimitError) as caught:
        budget.charge_archive(third)
    check_message(caught.value, "third.fmu", ["FMU third.fmu", f"limit of {2 * size + 10} bytes", "--limit"])
    assert budget.used == 2 * size
    budget.charge_archive(tmp_path / "missing.fmu")      # left to whoever reads it
    with pytest.raises(ValueError):
        UnpackBudget(0)

"""Reading a system file confined to a folder (as a server reads a client's):
references that lead out are refused by name, before the target is looked
at; unconfined, a trusted local file may name any path, as always."""

import io
import zipfile

import pytest

from cosim import twins
from cosim.fmi.archive import UnpackLimitError
from cosim.ssp import load, read
from cosim.ssp import osp_model
from cosim.ssp.confine import Confinement, ReferenceRefused

SSD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
       '<ssd:SystemStructureDescription '
       'xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription" '
       'name="plant" version="1.0"><ssd:System name="plant"><ssd:Elements>'
       '<ssd:Component name="g" source="{source}"/></ssd:Elements></ssd:System>'
       '</ssd:SystemStructureDescription>\n')


@pytest.fixture
def layout(tmp_path):
    """root/ with a system file; outside/ with the FMU it names."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "gain.fmu").write_bytes(twins.path("gain").read_bytes())
    return root, outside


def test_a_local_file_may_name_any_path_unless_confined(layout):
    root, outside = layout
    for source in ("../outside/gain.fmu", (outside / "gain.fmu").as_uri()):
        (root / "plant.ssd").write_text(SSD.format(source=source))
        assert set(load(root / "plant.ssd").components) == {"g"}
        with pytest.raises(ReferenceRefused) as caught:
            read(root / "plant.ssd", confine_to=root)
        assert source in str(caught.value) and "plant.ssd:2 <Component name='g'>" in str(caught.value)


def test_confined_references_stay_in_the_folder_through_links(layout):
    root, outside = layout
    (root / "inside.fmu").write_bytes(twins.path("gain").read_bytes())
    (root / "link.fmu").symlink_to(outside / "gain.fmu")
    (root / "sub").mkdir()
    confine = Confinement(root, label="the root")
    assert confine.resolve("sub/../inside.fmu", root) == root / "inside.fmu"
    assert confine.resolve("../inside.fmu", root / "sub") == root / "inside.fmu"
    assert confine.resolve("in%20side.fmu", root) == root / "in side.fmu"      # need not exist
    for reference in ("link.fmu", "../outside/gain.fmu", "sub/../../outside/gain.fmu", "/etc/hostname",
                      "file:///etc/hostname", "C:/models/a.fmu", "%2Fetc%2Fhostname", "//host/share/a.fmu",
                      "proxy-fmu://host/a.fmu"):
        with pytest.raises(ReferenceRefused, match="is refused"):
            confine.resolve(reference, root)
    with pytest.raises(ReferenceRefused, match="--allow-remote-components"):
        confine.remote("grpc://127.0.0.1:1")
    assert Confinement(root, allow_remote=True).remote("grpc://h:1") == "grpc://h:1"


def test_an_osp_model_description_named_by_the_fmu_stays_in_the_folder(layout):
    root, outside = layout
    (outside / "evil_OspModelDescription.xml").write_text("<OspModelDescription/>")
    (root / "gain.fmu").write_bytes(twins.path("gain").read_bytes())
    confine = Confinement(root)
    with pytest.raises(ReferenceRefused):
        osp_model.find(root / "gain.fmu", "../outside/evil", root, confine=confine)
    (root / "gain_OspModelDescription.xml").symlink_to(outside / "evil_OspModelDescription.xml")
    with pytest.raises(ReferenceRefused):
        osp_model.find(root / "gain.fmu", "gain", root, confine=confine)
    assert osp_model.find(root / "gain.fmu", "gain", root) is not None      # unconfined


def test_an_archive_is_confined_to_itself_and_bounded(layout, tmp_path):
    root, outside = layout
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("SystemStructure.ssd", SSD.format(source="resources/gain.fmu"))
        zf.writestr("resources/gain.fmu", twins.path("gain").read_bytes())
    (root / "plant.ssp").write_bytes(buffer.getvalue())
    size = sum(i.file_size for i in zipfile.ZipFile(root / "plant.ssp").infolist())
    fmu = sum(i.file_size for i in zipfile.ZipFile(twins.path("gain")).infolist())
    assert set(load(root / "plant.ssp", confine_to=root, max_unpacked_bytes=size + fmu).components) == {"g"}
    with pytest.raises(UnpackLimitError, match="gain.fmu"):
        load(root / "plant.ssp", max_unpacked_bytes=size + fmu - 1)
    with pytest.raises(UnpackLimitError, match="plant.ssp"):
        load(root / "plant.ssp", max_unpacked_bytes=size - 1)
    # a reference to the root beside the archive leads out of the archive
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("SystemStructure.ssd", SSD.format(source="../root/plant.ssp"))
    (root / "escape.ssp").write_bytes(buffer.getvalue())
    with pytest.raises(ReferenceRefused) as caught:
        read(root / "escape.ssp", confine_to=root)
    message = str(caught.value)
    assert "outside the SSP archive" in message and f"{root / 'escape.ssp'}!/SystemStructure.ssd" in message


def test_any_reference_is_refused_or_resolves_inside(tmp_path):
    """Random references built of the pieces escapes are made of: each is
    refused or names a path inside the root, links followed."""
    import random

    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "out").symlink_to(tmp_path, target_is_directory=True)
    (root / "loop").symlink_to(root / "loop")
    pieces = ["..", ".", "a", "b", "out", "loop", "x.fmu", "", "/", "%2e%2e", "%2F", "file:", "//",
              "\\", "C:", "~", "\u00e9", "%00", "a/../..", "grpc:", "?q", "#f"]
    rng = random.Random(20240611)
    confine = Confinement(root)
    for _ in range(3000):
        reference = "".join(rng.choice(pieces) + rng.choice(["/", "", "\\"])
                            for _ in range(rng.randint(1, 6)))
        try:
            found = confine.resolve(reference, root / "a")
        except ReferenceRefused as exc:
            assert "is refused" in str(exc)
            continue
        assert found.resolve().is_relative_to(root.resolve()), reference

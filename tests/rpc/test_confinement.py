"""A served system reaches no file outside its archive or the server's root,
unpacks to a bounded size, and every refusal reaches the client readable.

The attacks run against real `cosim serve` processes with files the tests
make: secrets outside the root that no message may show, references to
them by file: URI, absolute path, '..' and links, archives that unpack to
far more than they weigh, and a description with hundreds of errors.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import grpc
import pytest

from cosim import twins
from cosim.errors import ServiceError
from cosim.rpc import Client, orchestrator_server
from cosim.v1 import orchestrator_pb2, orchestrator_pb2_grpc

SECRETS = ("SECRET_NAME_42", "TOPSECRET-VALUE")
SSD_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ssd:SystemStructureDescription '
            'xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription" '
            'xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" '
            'xmlns:ssv="http://ssp-standard.org/SSP1/SystemStructureParameterValues" '
            'xmlns:ssm="http://ssp-standard.org/SSP1/SystemStructureParameterMapping" '
            'name="plant" version="1.0">\n')
SSV = ('<?xml version="1.0" encoding="UTF-8"?>\n'
       '<ssv:ParameterSet xmlns:ssv="http://ssp-standard.org/SSP1/SystemStructureParameterValues" '
       'version="1.0" name="{set}"><ssv:Parameters>'
       '<ssv:Parameter name="{name}"><ssv:{kind} value="{value}"/></ssv:Parameter>'
       '</ssv:Parameters></ssv:ParameterSet>\n')
SSM = ('<?xml version="1.0" encoding="UTF-8"?>\n'
       '<ssm:ParameterMapping xmlns:ssm="http://ssp-standard.org/SSP1/SystemStructureParameterMapping" '
       'version="1.0"><ssm:MappingEntry source="gain" target="k"/></ssm:ParameterMapping>\n')


def ssd(source="resources/gain.fmu", *, binding="", extra="", connections=""):
    """An SSD of one gain component ``g`` from ``source``, with the given
    ParameterBinding elements, more components and connections."""
    bindings = f"<ssd:ParameterBindings>{binding}</ssd:ParameterBindings>" if binding else ""
    return (f'{SSD_HEAD}<ssd:System name="plant"><ssd:Elements>'
            f'<ssd:Component name="g" type="application/x-fmu-sharedlibrary" source="{source}">'
            f'{bindings}</ssd:Component>{extra}</ssd:Elements>'
            f'{f"<ssd:Connections>{connections}</ssd:Connections>" if connections else ""}'
            '</ssd:System>'
            '</ssd:SystemStructureDescription>\n')


def ssp(description: str, files: dict | None = None) -> bytes:
    """An .ssp archive of ``description`` and ``files`` ({name: bytes}); the
    gain FMU is resources/gain.fmu unless ``files`` says otherwise."""
    files = {"resources/gain.fmu": twins.path("gain").read_bytes(), **(files or {})}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("SystemStructure.ssd", description)
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def secrets(tmp_path):
    """Files outside the server's root that no message may show: an SSV whose
    parameter and value are secrets, a description, an FMU-named file of
    malformed XML holding a secret, and names of files that do not exist."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ssv").write_text(SSV.format(set="values", name=SECRETS[0], kind="String",
                                                   value=SECRETS[1]))
    (outside / "secret.ssd").write_text(ssd(binding=f'<ssd:ParameterBinding source="{SECRETS[1]}"/>'))
    (outside / "secret.fmu").write_text(f"<{SECRETS[0]}>{SECRETS[1]}")
    (outside / "secret.ssm").write_text(f"<{SECRETS[0]}>{SECRETS[1]}</{SECRETS[0]}>")
    return outside


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "gain.fmu").write_bytes(twins.path("gain").read_bytes())
    return folder


@pytest.fixture
def serve(start_server, root, tmp_path):
    """A `cosim serve` process on ``root`` with a private TMPDIR, and a client of it."""
    clients = []

    def start(*options):
        tmp = tmp_path / "server-tmp"
        tmp.mkdir(exist_ok=True)
        server = start_server("serve", "--root", root, *options, env={"TMPDIR": str(tmp)})
        client = Client(server.url, timeout=60)
        clients.append(client)
        return client, tmp

    yield start
    for client in clients:
        client.close()


def refused(call, *args, code="PERMISSION_DENIED", **kwargs) -> str:
    with pytest.raises(ServiceError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, str(info.value)
    details = info.value.details
    for secret in SECRETS:
        assert secret not in details
    return details


def same_message(existing: str, missing: str, *renames: tuple[str, str]) -> None:
    """The messages differ only where the two references differ: by the
    ``(existing name, missing name)`` pairs."""
    for existing_name, missing_name in renames:
        missing = missing.replace(missing_name, existing_name)
    assert existing == missing


# -- references leading out of the archive -------------------------------------------

def reference_forms(target: Path) -> dict[str, str]:
    """Ways an SSD in an unpacked archive (somewhere under /tmp) can name ``target``."""
    return {"file URI": target.as_uri(), "absolute": str(target),
            "dot-dot": "../" * 30 + str(target).lstrip("/"),
            "dot-dot inside resources": "resources/../../" + "../" * 30 + str(target).lstrip("/")}


def attacks(target: Path) -> dict[str, str]:
    """SSDs naming ``target`` as each kind of file reference, in each form."""
    found = {}
    for form, ref in reference_forms(target).items():
        found[f"component source, {form}"] = ssd(ref)
        found[f"parameter values, {form}"] = ssd(binding=f'<ssd:ParameterBinding source="{ref}"/>')
        found[f"parameter mapping, {form}"] = ssd(binding=(
            '<ssd:ParameterBinding source="resources/values.ssv">'
            f'<ssd:ParameterMapping source="{ref}"/></ssd:ParameterBinding>'))
    return found


@pytest.mark.parametrize("kind", ["ssv", "fmu", "ssm", "ssd"])
def test_references_out_of_a_sent_archive_are_refused_alike_whether_or_not_the_file_exists(
        serve, secrets, kind):
    client, tmp = serve()
    values = {"resources/values.ssv": SSV.format(set="values", name="gain", kind="Real", value=2.0)}
    existing = attacks(secrets / f"secret.{kind}")
    missing = attacks(secrets / f"missing.{kind}")
    for case, description in existing.items():
        shown = refused(client.create_system, ssp(description, values))
        assert f"secret.{kind}" in shown, case           # it names the reference
        assert "outside the SSP archive" in shown or "URI" in shown or "absolute" in shown, case
        other = refused(client.create_system, ssp(missing[case], values))
        same_message(shown, other, (f"secret.{kind}", f"missing.{kind}"))
    assert client.systems() == []
    assert list(tmp.iterdir()) == []            # every refused request left nothing behind


def test_a_bare_ssd_sent_as_bytes_refers_to_no_file(serve, secrets, root):
    client, _ = serve()
    for description in (ssd("../root/gain.fmu"), ssd((secrets / "secret.fmu").as_uri()),
                        ssd(str(secrets / "secret.fmu"))):
        shown = refused(client.create_system, description.encode())
        assert "an .ssd sent as bytes refers to no other file" in shown or "URI" in shown
    # a file the request does not hold is simply not there
    shown = refused(client.create_system, ssd("gain.fmu").encode(), code="INVALID_ARGUMENT")
    assert "not found" in shown


def test_references_out_of_the_root_are_refused_for_systems_created_from_a_path(
        serve, secrets, root):
    (root / "link.ssv").symlink_to(secrets / "secret.ssv")
    (root / "dangling.ssv").symlink_to(secrets / "missing.ssv")
    (root / "linked").symlink_to(secrets, target_is_directory=True)
    (root / "link.fmu").symlink_to(secrets / "secret.fmu")
    cases = {
        "up.ssd": ssd("gain.fmu", binding='<ssd:ParameterBinding source="../outside/secret.ssv"/>'),
        "up-missing.ssd": ssd("gain.fmu", binding='<ssd:ParameterBinding source="../outside/missing.ssv"/>'),
        "link.ssd": ssd("gain.fmu", binding='<ssd:ParameterBinding source="link.ssv"/>'),
        "dangling.ssd": ssd("gain.fmu", binding='<ssd:ParameterBinding source="dangling.ssv"/>'),
        "dir-link.ssd": ssd("gain.fmu", binding='<ssd:ParameterBinding source="linked/secret.ssv"/>'),
        "dir-link-missing.ssd": ssd("gain.fmu", binding='<ssd:ParameterBinding source="linked/missing.ssv"/>'),
        "fmu-link.ssd": ssd("link.fmu"),
        "absolute.ssd": ssd(str(secrets / "secret.fmu")),
    }
    for name, description in cases.items():
        (root / name).write_text(description)
    client, _ = serve()
    shown = {name: refused(client.create_system, path=name) for name in cases}
    for name, message in shown.items():
        assert "the server's root directory" in message or "absolute" in message, name
    assert "'link.ssv'" in shown["link.ssd"] and "'linked/secret.ssv'" in shown["dir-link.ssd"]
    assert str(root) not in "".join(shown.values())         # files are named as the client does
    assert shown["up.ssd"].startswith("up.ssd:3 <ParameterBinding>: reference '../outside/")
    same_message(shown["up.ssd"], shown["up-missing.ssd"], ("up.ssd", "up-missing.ssd"),
                 ("secret", "missing"))
    same_message(shown["link.ssd"], shown["dangling.ssd"], ("link", "dangling"))
    same_message(shown["dir-link.ssd"], shown["dir-link-missing.ssd"],
                 ("dir-link.ssd", "dir-link-missing.ssd"), ("secret", "missing"))
    # the system file itself, through a link out of the root
    (root / "escape.ssd").symlink_to(secrets / "secret.ssd")
    refused(client.create_system, path="escape.ssd")


def test_osp_simulators_out_of_the_root_are_refused(serve, secrets, root):
    (root / "link.fmu").symlink_to(secrets / "secret.fmu")
    osp = ('<?xml version="1.0"?><OspSystemStructure xmlns="http://opensimulationplatform.com/'
           'MSMI/OSPSystemStructure" version="0.1"><BaseStepSize>0.1</BaseStepSize><Simulators>'
           '<Simulator name="g" source="{}"/></Simulators></OspSystemStructure>')
    for name, source in (("up.xml", "../outside/secret.fmu"), ("uri.xml", (secrets / "secret.fmu").as_uri()),
                         ("link.xml", "link.fmu"), ("ok.xml", "gain.fmu")):
        (root / name).write_text(osp.format(source))
    client, _ = serve()
    for name in ("up.xml", "uri.xml", "link.xml"):
        assert "is refused" in refused(client.create_system, path=name)
    assert set(client.create_system(path="ok.xml").components) == {"g"}


def test_external_entities_are_not_read(serve, secrets):
    client, _ = serve()
    description = ssd().replace(SSD_HEAD, SSD_HEAD.replace(
        "<ssd:SystemStructureDescription",
        f'<!DOCTYPE x [<!ENTITY s SYSTEM "{(secrets / "secret.ssv").as_uri()}">]>\n'
        "<ssd:SystemStructureDescription")).replace('name="g"', 'name="&s;"')
    with pytest.raises(ServiceError) as info:
        client.create_system(ssp(description))
    for secret in SECRETS:
        assert secret not in info.value.details


def test_remote_components_need_the_servers_consent(serve, start_server):
    twin = start_server("serve-twin", twins.path("gain"))
    description = ssd(twin.url)
    client, _ = serve()
    shown = refused(client.create_system, ssp(description))
    assert twin.url in shown and "--allow-remote-components" in shown
    client, _ = serve("--allow-remote-components")
    assert set(client.create_system(ssp(description)).components) == {"g"}


def test_a_legitimate_archive_with_its_resources_works(serve, root):
    client, _ = serve()
    files = {"resources/values.ssv": SSV.format(set="values", name="gain", kind="Real", value=3.0),
             "resources/map.ssm": SSM}
    description = ssd(binding='<ssd:ParameterBinding source="resources/values.ssv">'
                              '<ssd:ParameterMapping source="resources/map.ssm"/>'
                              '</ssd:ParameterBinding>')
    plant = client.create_system(ssp(description, files))
    plant.initialize(step_size=0.1, stop_time=1.0)
    plant.set("g.u", 2.0)
    plant.step(1)
    assert plant.get("g.y") == pytest.approx(6.0)
    # and from the root, with a value file beside it and one in a folder below
    (root / "sub").mkdir()
    (root / "sub" / "values.ssv").write_text(SSV.format(set="values", name="k", kind="Real", value=5.0))
    (root / "plant.ssd").write_text(ssd("gain.fmu", binding='<ssd:ParameterBinding source="sub/values.ssv"/>'))
    (root / "sub" / "up.ssd").write_text(ssd("../gain.fmu",
                                             binding='<ssd:ParameterBinding source="values.ssv"/>'))
    for path in ("plant.ssd", "sub/up.ssd"):
        plant = client.create_system(path=path)
        plant.initialize(step_size=0.1, stop_time=1.0)
        plant.set("g.u", 2.0)
        plant.step(1)
        assert plant.get("g.y") == pytest.approx(10.0), path


# -- unpacking -------------------------------------------------------------------------

def bomb(megabytes: int) -> bytes:
    """A zip member's worth of zeros: ``megabytes`` MiB that deflate to about a thousandth."""
    return bytes(megabytes * 1024**2)


def test_an_archive_unpacking_past_the_limit_is_refused_before_anything_is_written(serve):
    client, tmp = serve("--max-unpacked-bytes", "20M")
    data = ssp(ssd(), {"resources/zeros.bin": bomb(64)})
    assert len(data) < 1024**2
    shown = refused(client.create_system, data, code="RESOURCE_EXHAUSTED")
    assert str(20 * 1024**2) in shown and "--max-unpacked-bytes" in shown
    assert list(tmp.iterdir()) == []


def test_fmus_inside_an_archive_count_towards_the_limit(serve, tmp_path):
    fat = io.BytesIO()
    with zipfile.ZipFile(twins.path("gain")) as zin, \
            zipfile.ZipFile(fat, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr("resources/zeros.bin", bomb(12))
    client, tmp = serve("--max-unpacked-bytes", "20M")
    one = ssp(ssd("resources/fat.fmu"), {"resources/fat.fmu": fat.getvalue()})
    client.create_system(one).terminate()                   # 12 MiB fits
    two = ssp(ssd("resources/fat.fmu", extra='<ssd:Component name="h" source="resources/fat2.fmu"/>'),
              {"resources/fat.fmu": fat.getvalue(), "resources/fat2.fmu": fat.getvalue()})
    shown = refused(client.create_system, two, code="RESOURCE_EXHAUSTED")
    assert "fat2.fmu" in shown and "--max-unpacked-bytes" in shown
    nested = ssp(ssd("resources/fat.fmu"), {"resources/fat.fmu": fat.getvalue(),
                                            "resources/more.bin": bomb(12)})
    refused(client.create_system, nested, code="RESOURCE_EXHAUSTED")
    assert list(tmp.iterdir()) == []


# -- errors the client can read --------------------------------------------------------

def test_hundreds_of_problems_reach_the_client_as_a_bounded_list(serve):
    client, _ = serve()
    long = "v" * 500
    connections = "".join(f'<ssd:Connection startElement="g" startConnector="{long}{i}" '
                          f'endElement="g" endConnector="u"/>' for i in range(300))
    with pytest.raises(ServiceError) as info:
        client.create_system(ssp(ssd(connections=connections)))
    assert info.value.code == "INVALID_ARGUMENT"
    details = info.value.details
    assert "300 errors" in details and "and 280 more (CheckSystem lists them all)" in details
    assert f"{long}0" not in details and "vvvv" in details      # each problem shown cut short
    assert len(details.encode()) < 8000
    problems = client.check_system(ssp(ssd(connections=connections)))
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 300
    assert all(f"{long}{i}" in errors[i].message for i in range(300))
    assert all(p.location.startswith("system.ssp!/SystemStructure.ssd:") for p in errors)
    assert client.systems() == []
    assert client.check_system(ssp(ssd())) == []
    # CheckSystem is confined and bounded as CreateSystem is
    refused(client.check_system, ssp(ssd("/etc/hostname")))


def test_a_huge_name_in_an_error_is_cut_short(serve):
    client, _ = serve()
    name = "N" * 40000
    with pytest.raises(ServiceError) as info:
        client.create_system(ssp(ssd(f"resources/{name}.fmu")))
    assert info.value.code == "INVALID_ARGUMENT"
    assert "NNNN" in info.value.details and len(info.value.details.encode()) < 8000


# -- times a run cannot reach ----------------------------------------------------------

@pytest.fixture
def in_process(tmp_path):
    server = orchestrator_server(root=tmp_path).start()
    channel = grpc.insecure_channel(server.url.removeprefix("grpc://"))
    yield orchestrator_pb2_grpc.OrchestratorStub(channel), Client(server.url, timeout=30)
    channel.close()
    server.stop()


def test_run_until_refuses_times_that_are_not_finite_or_in_the_past(in_process):
    stub, client = in_process
    plant = client.create_system(ssp(ssd()))
    plant.initialize(step_size=0.5, stop_time=100.0)
    plant.step(4)
    for time in (math.nan, math.inf, -math.inf, -1.0, 1.0):
        with pytest.raises(grpc.RpcError) as info:
            list(stub.RunUntil(orchestrator_pb2.RunUntilRequest(system_id=plant.id, time=time),
                               timeout=10))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, time
        assert "time" in info.value.details()
    assert plant.status().time == 2.0


@pytest.mark.parametrize("field, value", [("step_size", math.nan), ("step_size", math.inf),
                                          ("start_time", math.nan), ("stop_time", math.inf),
                                          ("stop_time", math.nan), ("realtime_factor", math.nan)])
def test_initialize_refuses_times_that_are_not_finite(in_process, field, value):
    stub, client = in_process
    plant = client.create_system(ssp(ssd()))
    request = orchestrator_pb2.InitializeSystemRequest(system_id=plant.id, step_size=0.5,
                                                       stop_time=10.0)
    setattr(request, field, value)
    with pytest.raises(grpc.RpcError) as info:
        stub.Initialize(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in info.value.details()
    assert plant.status().state == "created"

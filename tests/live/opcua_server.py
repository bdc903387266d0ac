"""An OPC UA server for the live data tests, run in its own process.

    python opcua_server.py --port PORT [--rate HZ]

It listens on opc.tcp://127.0.0.1:PORT/cosim/ and, ``rate`` times a second,
writes tick ``k`` (0, 1, 2, ...) into these variables of namespace
``urn:cosim:test`` (index 2), all with the same SourceTimestamp (now, UTC):

- ``ns=2;s=Furnace.HeatZone.Temperature`` (browse path
  ``2:Furnace/2:HeatZone/2:Temperature``): 20 + 0.5 k, a Double ramp
- ``ns=2;s=Furnace.Counter``: k, an Int64
- ``ns=2;s=Line.Sensor``: k, except status BadSensorFailure when k % 10 == 5
  and NaN when k % 10 == 7
- ``ns=2;s=Line.Label``: the String "part k"
- ``ns=2;s=Line.DoorOpen``: the Boolean k % 2 == 1
- ``ns=2;s=Line.NoTimestamp``: k, with no SourceTimestamp

It prints ``ready`` once it listens.
"""

import argparse
import asyncio
import datetime
import logging

from asyncua import Server, ua


async def main(port: int, rate: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/cosim/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:cosim:test")
    objects = server.nodes.objects
    furnace = await objects.add_object(ua.NodeId("Furnace", ns), ua.QualifiedName("Furnace", ns))
    zone = await furnace.add_object(ua.NodeId("Furnace.HeatZone", ns),
                                    ua.QualifiedName("HeatZone", ns))
    line = await objects.add_object(ua.NodeId("Line", ns), ua.QualifiedName("Line", ns))

    async def variable(parent, name, browse, value, kind):
        return await parent.add_variable(ua.NodeId(name, ns), ua.QualifiedName(browse, ns),
                                         ua.Variant(value, kind))

    nodes = {
        "temperature": await variable(zone, "Furnace.HeatZone.Temperature", "Temperature", 20.0,
                                      ua.VariantType.Double),
        "counter": await variable(furnace, "Furnace.Counter", "Counter", 0, ua.VariantType.Int64),
        "sensor": await variable(line, "Line.Sensor", "Sensor", 0.0, ua.VariantType.Double),
        "label": await variable(line, "Line.Label", "Label", "", ua.VariantType.String),
        "door": await variable(line, "Line.DoorOpen", "DoorOpen", False, ua.VariantType.Boolean),
        "plain": await variable(line, "Line.NoTimestamp", "NoTimestamp", 0.0,
                                ua.VariantType.Double),
    }
    ids = {key: node.nodeid for key, node in nodes.items()}

    async def write(key, value, kind, stamp, status=ua.StatusCodes.Good):
        await server.write_attribute_value(ids[key], ua.DataValue(
            ua.Variant(value, kind), StatusCode=ua.StatusCode(status),
            SourceTimestamp=stamp, ServerTimestamp=stamp))

    async with server:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        began = loop.time()
        k = 0
        while True:
            now = datetime.datetime.now(datetime.timezone.utc)
            await write("temperature", 20.0 + 0.5 * k, ua.VariantType.Double, now)
            await write("counter", k, ua.VariantType.Int64, now)
            if k % 10 == 5:
                await write("sensor", 0.0, ua.VariantType.Double, now,
                            ua.StatusCodes.BadSensorFailure)
            else:
                await write("sensor", float("nan") if k % 10 == 7 else float(k),
                            ua.VariantType.Double, now)
            await write("label", f"part {k}", ua.VariantType.String, now)
            await write("door", k % 2 == 1, ua.VariantType.Boolean, now)
            await write("plain", float(k), ua.VariantType.Double, None)
            k += 1
            await asyncio.sleep(max(0.0, began + k / rate - loop.time()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.rate))

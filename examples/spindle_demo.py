"""Run the spindle twin through a machining cycle and print a summary."""

import fmpy

from cosim import twins


def main():
    path = twins.path("spindle")
    result = fmpy.simulate_fmu(str(path), stop_time=30.0, step_size=0.01,
                               start_values={"speed_setpoint": 9000.0, "load_torque": 12.0})
    print(f"spindle twin ({path.name}), 30 s at 9000 rpm under 12 N.m")
    print(f"  final speed          {result['speed'][-1]:10.1f} rpm")
    print(f"  motor power          {result['motor_power'][-1] / 1e3:10.2f} kW")
    print(f"  bearing temperature  {result['bearing_temperature'][-1]:10.2f} degC")
    print(f"  vibration            {result['vibration'][-1]:10.3f} mm/s")
    print(f"  remaining life       {result['remaining_life'][-1]:10.0f} h")


if __name__ == "__main__":
    main()

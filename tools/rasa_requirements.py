"""Print Rasa 3.6.21's own requirements as they are on Python 3.10, for its own venv on 3.11.

Rasa 3.6 declares Python < 3.11; installed with ``--no-deps --ignore-requires-python``,
its Requires-Dist are evaluated here as if on 3.10, rasa-sdk is dropped (installed
separately) and matplotlib is widened to a version with 3.11 wheels.
"""

from importlib.metadata import requires

from packaging.requirements import Requirement

env = {"python_version": "3.10", "python_full_version": "3.10.12", "sys_platform": "linux", "platform_system": "Linux",
       "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython", "extra": ""}
for line in requires("rasa") or []:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate(env):
        continue
    if req.name.lower() in ("rasa-sdk", "rasa_sdk"):
        continue
    req.marker = None
    if req.name.lower() == "matplotlib":
        print("matplotlib>=3.6.3,<3.7")
        continue
    print(str(req))

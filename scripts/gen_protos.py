"""Generates Python code and mypy stubs for every .proto under protos/ into lib/."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "protos"
OUT = ROOT / "lib"


def main() -> int:
    # protoc finds the mypy plugins on PATH; they live beside this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    google_protos = Path(str(resources.files("google") / "type")).parent.parent
    well_known = Path(str(resources.files("grpc_tools") / "_proto"))
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{google_protos}",
        f"-I{well_known}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        return int(code)
    for proto in files:
        package_dir = OUT / Path(proto).parent
        for directory in (package_dir, *package_dir.parents):
            if directory == OUT:
                break
            init = directory / "__init__.py"
            if not init.exists():
                init.write_text("")
    return 0


if __name__ == "__main__":
    sys.exit(main())

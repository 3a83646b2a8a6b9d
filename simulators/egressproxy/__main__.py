"""`python -m egressproxy`: JSON logs, then proxy until SIGTERM/SIGINT (EGRESSPROXY_* settings)."""

from __future__ import annotations

from egressproxy.server import serve
from egressproxy.settings import EgressProxySettings
from paysuite.runtime.simulator_main import run_simulator


def main() -> None:
    run_simulator(
        "egressproxy",
        EgressProxySettings,
        lambda settings: settings.name,
        lambda settings, _common: serve(settings),
        traced=False,
    )


if __name__ == "__main__":
    main()

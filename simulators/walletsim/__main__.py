"""`python -m walletsim`: JSON logs, tracing, then serve until SIGTERM/SIGINT."""

from __future__ import annotations

from paysuite.runtime.simulator_main import run_simulator
from walletsim.serve import serve
from walletsim.settings import WalletSimSettings


def main() -> None:
    run_simulator(
        "walletsim",
        lambda: WalletSimSettings(),  # type: ignore[call-arg]  # secret from environment
        lambda settings: settings.channel,
        lambda settings, common: serve(settings, grace_seconds=common.shutdown_grace_seconds),
    )


if __name__ == "__main__":
    main()

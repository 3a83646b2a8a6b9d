"""`python -m channelsim`: JSON logs, tracing, then serve until SIGTERM/SIGINT."""

from __future__ import annotations

from channelsim.serve import serve
from channelsim.settings import ChannelSimSettings
from paysuite.runtime.simulator_main import run_simulator


def main() -> None:
    run_simulator(
        "channelsim",
        lambda: ChannelSimSettings(),  # type: ignore[call-arg]  # secret from environment
        lambda settings: settings.channel,
        lambda settings, common: serve(settings, grace_seconds=common.shutdown_grace_seconds),
    )


if __name__ == "__main__":
    main()

"""`make run` ports: defaults, each moved by its own environment variable."""

from devstack.stack import DEFAULT_PORTS, ports_from_environment


def test_defaults_without_variables() -> None:
    assert ports_from_environment({}) == DEFAULT_PORTS


def test_each_variable_moves_only_its_port() -> None:
    ports = ports_from_environment({"GATEWAY_PORT": "60051", "WECHATSIM_PORT": "9603"})
    assert ports["gateway"] == 60051
    assert ports["wechatsim"] == 9603
    assert ports["ledger"] == DEFAULT_PORTS["ledger"]

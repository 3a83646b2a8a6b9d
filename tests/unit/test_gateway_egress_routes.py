"""Egress routes without I/O: EWMAs, circuits on a fake clock, ranking reasons, config reloads."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gateway.adapters.egress_routes_file import EgressRoutesFile
from gateway.domain.egress import (
    CircuitState,
    EgressPolicy,
    Ewma,
    Outcome,
    RouteConfigError,
    Router,
    RouteSpec,
    Transition,
    default_routes,
    failover_reason,
    parse_routes,
    redact_proxy,
)

A = RouteSpec("bank-a", "banksim", "http://127.0.0.1:8701", "cn-east", 1)
B = RouteSpec("bank-b", "banksim", "http://127.0.0.1:8702", "cn-north", 1)
DIRECT = RouteSpec("bank-direct", "banksim", None)
POLICY = EgressPolicy(
    failure_threshold=3, cool_down_seconds=5.0, max_cool_down_seconds=20.0, probe_lease_seconds=30
)
SECRET = "s3cr3t-proxy-password"


def answered(router: Router, spec: RouteSpec, now: float, seconds: float) -> None:
    attempt = router.begin(spec.route_id, now)
    assert attempt is not None
    router.record(attempt, Outcome.ANSWERED, now + seconds)


def failed(
    router: Router, spec: RouteSpec, now: float, outcome: Outcome = Outcome.UNREACHABLE
) -> Transition | None:
    attempt = router.begin(spec.route_id, now)
    assert attempt is not None
    return router.record(attempt, outcome, now + 0.001)


def ids(router: Router, now: float, channel: str = "banksim") -> list[str]:
    return [s.route_id for s in router.rank(channel, now)]


def test_ewma_takes_the_first_sample_then_weights_by_alpha() -> None:
    ewma = Ewma(0.3)
    assert ewma.value is None
    assert ewma.add(100.0) == 100.0
    assert ewma.add(0.0) == pytest.approx(70.0)
    assert ewma.add(70.0) == pytest.approx(70.0)
    assert ewma.add(170.0) == pytest.approx(100.0)


def test_latency_ewma_uses_the_configured_alpha() -> None:
    router = Router(EgressPolicy(latency_alpha=0.5), [A])
    answered(router, A, 0.0, 0.010)
    answered(router, A, 1.0, 0.030)
    stats = router.stats("bank-a")
    assert stats.latency_ms == pytest.approx(20.0)
    assert (stats.requests, stats.answered, stats.error_rate) == (2, 2, 0.0)


def test_unmeasured_routes_come_first_then_the_fastest() -> None:
    router = Router(POLICY, [A, B])
    ranked = router.ranked("banksim", 0.0)
    assert [r.spec.route_id for r in ranked] == ["bank-a", "bank-b"]
    assert ranked[0].reason == "unmeasured: measuring bank-a"
    assert ranked[1].reason == "fallback 1: unmeasured"

    answered(router, A, 0.0, 0.048)
    ranked = router.ranked("banksim", 1.0)
    assert [r.spec.route_id for r in ranked] == ["bank-b", "bank-a"]
    assert ranked[0].reason == "unmeasured: measuring bank-b"

    answered(router, B, 1.0, 0.012)
    ranked = router.ranked("banksim", 2.0)
    assert [r.spec.route_id for r in ranked] == ["bank-b", "bank-a"]
    assert ranked[0].reason == "fastest healthy: 12ms vs 48ms"
    assert ranked[1].reason == "fallback 1: 48ms"


def test_weight_breaks_ties_among_unmeasured_and_equally_fast_routes() -> None:
    heavy = RouteSpec("bank-heavy", "banksim", None, weight=5)
    router = Router(POLICY, [A, heavy])
    assert ids(router, 0.0) == ["bank-heavy", "bank-a"]
    answered(router, A, 0.0, 0.0201)
    answered(router, heavy, 0.0, 0.0199)
    ranked = router.ranked("banksim", 1.0)
    assert [r.spec.route_id for r in ranked] == ["bank-heavy", "bank-a"]
    assert ranked[0].reason == "tie at 20ms: weight 5 vs 1"


def test_only_routes_of_the_channel_are_ranked() -> None:
    other = RouteSpec("wallet-direct", "walletsim", None)
    router = Router(POLICY, [A, other])
    answered(router, A, 0.0, 0.005)
    assert ids(router, 1.0) == ["bank-a"]
    assert router.ranked("banksim", 1.0)[0].reason == "only healthy route: 5.0ms"
    assert ids(router, 1.0, "walletsim") == ["wallet-direct"]
    assert router.rank("nosuch", 1.0) == []


def test_consecutive_failures_open_the_circuit_and_an_answer_resets_the_count() -> None:
    router = Router(POLICY, [A, B])
    assert failed(router, A, 0.0) is None
    assert failed(router, A, 0.1, Outcome.TIMEOUT) is None
    answered(router, A, 0.2, 0.010)
    assert router.stats("bank-a").consecutive_failures == 0
    assert failed(router, A, 1.0) is None
    assert failed(router, A, 1.1, Outcome.BROKEN) is None
    change = failed(router, A, 1.2, Outcome.TIMEOUT)
    assert change is not None and change.state is CircuitState.OPEN
    assert change.text == (
        "circuit of bank-a opened: 3 consecutive failures, last a timeout; cool-down 5s"
    )
    assert router.state("bank-a", 1.3) is CircuitState.OPEN
    assert ids(router, 1.3) == ["bank-b"]
    assert router.begin("bank-a", 1.3) is None
    stats = router.stats("bank-a")
    assert (stats.requests, stats.timeouts, stats.failures) == (6, 2, 3)


def test_a_high_error_rate_opens_the_circuit_without_consecutive_failures() -> None:
    policy = EgressPolicy(
        error_alpha=0.5, error_rate_threshold=0.5, error_rate_min_requests=4, failure_threshold=5
    )
    router = Router(policy, [A])
    changes = []
    for step in range(3):  # failure, answer, failure, answer, failure: 1, .5, .75, .375, .69
        changes.append(failed(router, A, step))
        if step < 2:
            answered(router, A, step + 0.5, 0.010)
    assert changes[:2] == [None, None]
    opened = changes[2]
    assert opened is not None and opened.state is CircuitState.OPEN
    assert "error rate 69% above 50%" in opened.text
    assert router.stats("bank-a").consecutive_failures == 1


def open_circuit(router: Router, spec: RouteSpec, now: float) -> None:
    for step in range(router.policy.failure_threshold):
        failed(router, spec, now + step * 0.001)
    assert router.state(spec.route_id, now + 0.01) is CircuitState.OPEN


def test_after_the_cool_down_exactly_one_trial_is_let_through_and_success_closes() -> None:
    router = Router(POLICY, [A, B])
    answered(router, A, 0.0, 0.010)
    answered(router, B, 0.0, 0.050)
    open_circuit(router, A, 1.0)
    assert ids(router, 5.9) == ["bank-b"]
    assert router.state("bank-a", 6.1) is CircuitState.HALF_OPEN

    ranked = router.ranked("banksim", 6.1)
    assert [r.spec.route_id for r in ranked] == ["bank-a", "bank-b"]
    assert ranked[0].reason == "half-open probe of bank-a after 5s cool-down"
    probe = router.begin("bank-a", 6.1)
    assert probe is not None and probe.probe
    assert router.begin("bank-a", 6.2) is None  # one trial only
    assert ids(router, 6.2) == ["bank-b"]
    health = {h.spec.route_id: h for h in router.health(6.2)}
    assert health["bank-a"].rank == 0
    assert health["bank-a"].reason == "half-open: trial request in flight"

    change = router.record(probe, Outcome.ANSWERED, 6.2)
    assert change is not None and change.state is CircuitState.CLOSED
    assert change.text.startswith("circuit of bank-a closed: probe answered in")
    assert ids(router, 6.3) == ["bank-a", "bank-b"]
    assert router.stats("bank-a").error_rate == 0.0


def test_a_failed_trial_reopens_with_the_cool_down_doubled_up_to_the_cap() -> None:
    router = Router(POLICY, [A, B])
    open_circuit(router, A, 0.0)
    now = 0.0
    cool_downs = []
    for _ in range(4):
        now += 100
        probe = router.begin("bank-a", now)
        assert probe is not None and probe.probe
        change = router.record(probe, Outcome.UNREACHABLE, now + 0.001)
        assert change is not None and change.state is CircuitState.OPEN
        cool_downs.append(change.text.rsplit("cool-down ", 1)[1])
    assert cool_downs == ["10s", "20s", "20s", "20s"]
    assert router.state("bank-a", now + 19) is CircuitState.OPEN
    assert router.state("bank-a", now + 21) is CircuitState.HALF_OPEN

    probe = router.begin("bank-a", now + 21)
    assert probe is not None
    router.record(probe, Outcome.ANSWERED, now + 21.01)
    open_circuit(router, A, now + 30)
    assert router.state("bank-a", now + 30 + 4.9) is CircuitState.OPEN
    assert router.state("bank-a", now + 30 + 5.1) is CircuitState.HALF_OPEN  # back to 5s


def test_an_abandoned_or_lost_trial_frees_the_slot() -> None:
    router = Router(POLICY, [A])
    open_circuit(router, A, 0.0)
    probe = router.begin("bank-a", 10.0)
    assert probe is not None
    assert router.record(probe, Outcome.ABANDONED, 10.5) is None
    assert router.state("bank-a", 10.6) is CircuitState.HALF_OPEN
    lost = router.begin("bank-a", 11.0)
    assert lost is not None and router.begin("bank-a", 12.0) is None
    retry = router.begin("bank-a", 11.0 + POLICY.probe_lease_seconds)
    assert retry is not None and retry.probe
    # The lost trial's late answer is not the current trial's: it decides nothing.
    assert router.record(lost, Outcome.ANSWERED, 50.0) is None
    assert router.state("bank-a", 50.0) is CircuitState.HALF_OPEN


def test_answers_of_requests_sent_before_the_circuit_opened_do_not_close_it() -> None:
    router = Router(POLICY, [A])
    early = router.begin("bank-a", 0.0)
    assert early is not None
    open_circuit(router, A, 0.1)
    assert router.record(early, Outcome.ANSWERED, 0.5) is None
    assert router.state("bank-a", 0.5) is CircuitState.OPEN


def test_health_lists_every_route_with_rank_state_and_counts() -> None:
    router = Router(POLICY, [A, B, RouteSpec("wallet-direct", "walletsim", None)])
    answered(router, A, 0.0, 0.030)
    answered(router, B, 0.0, 0.010)
    failed(router, B, 0.1, Outcome.TIMEOUT)
    open_circuit(router, A, 1.0)
    rows = router.health(2.0)
    assert [(h.spec.route_id, h.rank, h.state) for h in rows] == [
        ("bank-b", 1, CircuitState.CLOSED),
        ("bank-a", 0, CircuitState.OPEN),
        ("wallet-direct", 1, CircuitState.CLOSED),
    ]
    b, a = rows[0], rows[1]
    assert (b.requests, b.timeouts, b.failures) == (2, 1, 0)
    assert b.error_rate == pytest.approx(POLICY.error_alpha)
    assert a.reason.startswith("circuit open (3 consecutive failures, last a connection error)")
    assert [h.spec.route_id for h in router.health(2.0, "walletsim")] == ["wallet-direct"]


def test_reconfiguring_keeps_the_measurements_of_routes_whose_id_survives() -> None:
    router = Router(POLICY, [A, B])
    answered(router, A, 0.0, 0.020)
    open_circuit(router, B, 0.1)
    in_flight = router.begin("bank-a", 1.0)
    assert in_flight is not None
    moved_a = RouteSpec("bank-a", "banksim", "http://127.0.0.1:9701", "cn-south", 2)
    change = router.configure([moved_a, DIRECT])
    assert (change.added, change.removed, change.kept) == (
        ("bank-direct",),
        ("bank-b",),
        ("bank-a",),
    )
    assert router.routes() == [moved_a, DIRECT]
    stats = router.stats("bank-a")
    assert stats.latency_ms == pytest.approx(20.0) and stats.requests == 2
    assert router.stats("bank-direct").requests == 0
    assert router.record(in_flight, Outcome.ANSWERED, 1.1) is None
    assert router.stats("bank-a").answered == 2
    # B is gone; bringing it back starts it afresh, circuit closed.
    router.configure([moved_a, B])
    assert router.state("bank-b", 1.2) is CircuitState.CLOSED
    assert router.stats("bank-b").requests == 0
    with pytest.raises(RouteConfigError):
        router.configure([A, A])


def test_failover_reason_names_the_failed_route_and_the_error() -> None:
    assert (
        failover_reason(A, "connection error (ClientProxyConnectionError)")
        == "failover after connection error (ClientProxyConnectionError) on bank-a"
    )


def test_proxy_credentials_stay_out_of_repr_and_labels() -> None:
    spec = RouteSpec("bank-a", "banksim", f"http://user:{SECRET}@proxy.local:3128")
    assert SECRET not in repr(spec)
    assert spec.proxy_label == "http://proxy.local:3128"
    assert redact_proxy(None) == "" and redact_proxy("http://[::1]:8701/") == "http://[::1]:8701"


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        EgressPolicy(latency_alpha=0)
    with pytest.raises(ValueError):
        EgressPolicy(cool_down_seconds=10, max_cool_down_seconds=5)
    with pytest.raises(ValueError):
        EgressPolicy(failure_threshold=0)


def document(*routes: dict[str, object]) -> dict[str, object]:
    return {"routes": list(routes)}


def test_parse_routes_reads_every_field_with_defaults() -> None:
    specs = parse_routes(
        document(
            {
                "route_id": "bank-a",
                "channel": "banksim",
                "proxy": "http://127.0.0.1:8701",
                "region": "cn-east",
                "weight": 3,
            },
            {"route_id": "bank-direct", "channel": "banksim", "proxy": None},
            {"route_id": "bank-min", "channel": "banksim"},
        ),
        channels=["banksim"],
    )
    assert specs == [
        RouteSpec("bank-a", "banksim", "http://127.0.0.1:8701", "cn-east", 3),
        RouteSpec("bank-direct", "banksim", None, "", 1),
        RouteSpec("bank-min", "banksim", None, "", 1),
    ]
    assert default_routes(["banksim", "walletsim", "banksim"]) == [
        RouteSpec("banksim-direct", "banksim", None),
        RouteSpec("walletsim-direct", "walletsim", None),
    ]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must hold a JSON object"),
        ({"routes": []}, "non-empty list"),
        ({"routes": [], "extra": 1}, "unknown top-level field(s) extra"),
        ({"routes": ["bank-a"]}, "routes[0]: must be an object"),
        (document({"route_id": "bad id", "channel": "banksim"}), "routes[0].route_id"),
        (document({"route_id": "a", "channel": "BANK"}), "routes[0].channel"),
        (document({"route_id": "a", "channel": "walletsim"}), "not a channel of this gateway"),
        (document({"route_id": "a", "channel": "banksim", "weight": 0}), "routes[0].weight"),
        (document({"route_id": "a", "channel": "banksim", "weight": True}), "routes[0].weight"),
        (document({"route_id": "a", "channel": "banksim", "weight": 1.5}), "routes[0].weight"),
        (document({"route_id": "a", "channel": "banksim", "region": 7}), "routes[0].region"),
        (document({"route_id": "a", "channel": "banksim", "colour": "red"}), "unknown field"),
        (document({"route_id": "a", "channel": "banksim", "proxy": 8701}), "routes[0].proxy"),
        (
            document({"route_id": "a", "channel": "banksim", "proxy": f"ftp://u:{SECRET}@h:1"}),
            "routes[0].proxy: must be http(s)://host[:port]",
        ),
        (
            document({"route_id": "a", "channel": "banksim", "proxy": f"http://u:{SECRET}@h:x"}),
            "routes[0].proxy: not a valid URL",
        ),
        (
            document({"route_id": "a", "channel": "banksim", "proxy": f"http://h:1/{SECRET}"}),
            "nothing more",
        ),
        (
            document(
                {"route_id": "a", "channel": "banksim"}, {"route_id": "a", "channel": "banksim"}
            ),
            "routes[1].route_id: 'a' is used twice",
        ),
    ],
)
def test_parse_routes_refuses_bad_documents_without_repeating_secrets(
    doc: object, message: str
) -> None:
    with pytest.raises(RouteConfigError) as caught:
        parse_routes(doc, channels=["banksim"])
    assert message in str(caught.value)
    assert SECRET not in str(caught.value)


def test_parse_routes_needs_a_route_for_every_channel() -> None:
    with pytest.raises(RouteConfigError, match="no route for channel"):
        parse_routes(
            document({"route_id": "a", "channel": "banksim"}), channels=["banksim", "walletsim"]
        )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write_routes(path: Path, *routes: RouteSpec) -> None:
    path.write_text(
        json.dumps(
            {
                "routes": [
                    {
                        "route_id": r.route_id,
                        "channel": r.channel,
                        "proxy": r.proxy,
                        "region": r.region,
                        "weight": r.weight,
                    }
                    for r in routes
                ]
            }
        )
    )


def test_routes_file_reloads_on_change_at_most_once_a_second_keeping_stats(
    tmp_path: Path,
) -> None:
    path = tmp_path / "routes.json"
    write_routes(path, A, B)
    clock = FakeClock()
    router = Router(POLICY)
    routes = EgressRoutesFile(path, router, ["banksim"], clock=clock)
    routes.load()
    assert router.routes() == [A, B]
    answered(router, A, 0.0, 0.020)

    write_routes(path, A, DIRECT)
    clock.now += 0.5
    assert not routes.refresh()  # looked less than a second ago
    assert router.routes() == [A, B]
    clock.now += 0.6
    assert routes.refresh()
    assert router.routes() == [A, DIRECT]
    assert router.stats("bank-a").latency_ms == pytest.approx(20.0)
    clock.now += 1.1
    assert not routes.refresh()  # unchanged


def test_a_bad_or_missing_routes_file_keeps_the_previous_routes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "routes.json"
    write_routes(path, A)
    clock = FakeClock()
    router = Router(POLICY)
    routes = EgressRoutesFile(path, router, ["banksim"], clock=clock)
    routes.load()
    caplog.set_level(logging.INFO)

    path.write_text(
        json.dumps(
            document({"route_id": "a", "channel": "banksim", "proxy": f"http://u:{SECRET}@h:x"})
        )
    )
    clock.now += 1.5
    assert not routes.refresh()
    assert router.routes() == [A]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "routes[0].proxy" in errors[0].__dict__["error"]
    clock.now += 1.5
    assert not routes.refresh()
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1  # once per change

    path.write_text("{not json")
    clock.now += 1.5
    assert not routes.refresh()
    path.unlink()
    clock.now += 1.5
    assert not routes.refresh()
    assert router.routes() == [A]
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET not in everything

    write_routes(path, B)
    clock.now += 1.5
    assert routes.refresh()
    assert router.routes() == [B]


def test_a_bad_routes_file_stops_the_first_load(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"routes": [{"route_id": "a", "channel": "nosuch"}]}))
    with pytest.raises(RouteConfigError, match="not a channel of this gateway"):
        EgressRoutesFile(path, Router(), ["banksim"]).load()
    with pytest.raises(FileNotFoundError):
        EgressRoutesFile(tmp_path / "missing.json", Router(), ["banksim"]).load()

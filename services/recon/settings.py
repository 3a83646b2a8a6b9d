"""Recon settings from RECON_* variables, plus the gateway's and the ledger's addresses."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from paysuite.runtime.settings import PagedServiceSettings


class ReconSettings(PagedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECON_", extra="ignore", frozen=True)

    service_name: str = "recon"
    port: int = 50054
    gateway_addr: str = Field(default="localhost:50051", validation_alias="GATEWAY_ADDR")
    ledger_addr: str = Field(default="localhost:50052", validation_alias="LEDGER_ADDR")
    # Where runs stage their files (a folder per run, removed when the run ends); with
    # match_runner indexed-job, a volume the Job's pods mount too (Kubernetes: recon-work).
    work_dir: Path = Path(tempfile.gettempdir()) / "paysuite-recon"
    # Hash buckets of a run, the ranges they are matched in, worker processes, and the memory
    # each worker's DuckDB may hold before it spills to disk.
    buckets: int = 1024
    ranges: int = 16
    workers: int = 2
    worker_memory_mb: int = 600
    # Who matches a run's ranges: "local", worker processes of recon's own; "indexed-job",
    # the completions of the Kubernetes Indexed Job deploy/k8s/jobs/recon-buckets (one per
    # range, started per run by the operator with the run's id, never by recon): the run
    # stages into work_dir, writes its manifest and waits for every range's result, at most
    # job_timeout_seconds, looking every job_poll_seconds. job_retries is the Job's
    # backoffLimitPerIndex: a range failing more often than that fails the run.
    match_runner: Literal["local", "indexed-job"] = "local"
    job_timeout_seconds: float = Field(default=1800.0, gt=0)
    job_poll_seconds: float = Field(default=2.0, gt=0)
    job_retries: int = Field(default=2, ge=0)
    # A transaction missing from a side this close to the day-cut is carried to the next date.
    carry_window_seconds: int = 900
    # The format of each channel's statement as the gateway fetches it, when none was imported
    # for the date (RECON_STATEMENT_FORMATS='{"banksim": "unionpay-zm"}'): the bank simulator's
    # card bill is UnionPay's ZM file unless it is set to its old CSV ("banksim").
    statement_formats: dict[str, str] = {
        "banksim": "unionpay-zm",
        "alipaysim": "alipay",
        "wechatsim": "wechat",
    }
    # Channels whose answers state no fee (the wallets: what they keep is known from the bill):
    # their bill's fees are not compared with the gateway's records.
    fees_from_bill: tuple[str, ...] = ("alipaysim", "wechatsim")
    # The IANA zone each channel's bill day is in, when not Asia/Shanghai.
    bill_zones: dict[str, str] = {}
    # A bill line's status (upper case) that says the channel did not take the money.
    failure_states: tuple[str, ...] = (
        "FAIL",
        "FAILED",
        "CLOSED",
        "REVOKED",
        "PROCESSING",
        "PDNG",
        "INFO",
        "NOTPAY",
        "PAYERROR",
        "交易关闭",
        "退款失败",
    )
    # Settlement: the channels a date's clearing adds up (those in settlement_unreconciled
    # have the ledger as their book and no statement to reconcile), the holiday calendar
    # (RECON_SETTLEMENT_HOLIDAYS='["2026-10-01"]') and make-up workdays (调休), and how often
    # open settlement payouts and returns are followed.
    settlement_channels: tuple[str, ...] = ("banksim", "alipaysim", "wechatsim", "balance")
    settlement_unreconciled: tuple[str, ...] = ("balance",)
    settlement_holidays: tuple[date, ...] = ()
    settlement_workdays: tuple[date, ...] = ()
    settlement_follow_seconds: float = 30.0
    # Benchmark only: read our side from files under this folder, not from the services.
    records_dir: Path | None = None

    @model_validator(mode="after")
    def _records_dir_in_dev_only(self) -> Self:
        if self.records_dir is not None and not self.is_dev:
            raise ValueError("RECON_RECORDS_DIR is for benchmarks in dev only")
        return self

    @model_validator(mode="after")
    def _job_on_a_shared_work_dir(self) -> Self:
        if self.match_runner == "indexed-job" and "work_dir" not in self.model_fields_set:
            raise ValueError(
                "RECON_MATCH_RUNNER=indexed-job needs RECON_WORK_DIR: the volume the Job mounts"
            )
        return self

    # The reserve (备付金) account: the channel name its camt.053 statements are imported under,
    # the bank channel whose payouts it pays, and each settling channel with the days after a
    # business date its money is due (RECON_RESERVE_SETTLEMENT_DAYS='{"banksim": 1}').
    reserve_statement_channel: str = "reserve"
    reserve_payouts_channel: str = "banksim"
    reserve_settlement_days: dict[str, int] = {"banksim": 1, "alipaysim": 1, "wechatsim": 1}
    # The settling channels whose bill of a date is reconciled before the reserve account
    # settles the date (those of fees_from_bill always are): a run finding one not reconciled
    # is refused (RECON_RESERVE_BILLS_FIRST='["banksim"]').
    reserve_bills_first: tuple[str, ...] = ("banksim", "alipaysim", "wechatsim")
    # The reserve account's number at that bank: its statement of a date is fetched through the
    # gateway (FetchAccountStatement) when none is imported, or one imported before the day ended.
    reserve_account_no: str = Field(default="6216600000000001688", pattern=r"^[0-9]{6,32}$")

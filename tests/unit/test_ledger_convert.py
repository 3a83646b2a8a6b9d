"""Reading CreateTransfers: the fast reader's digests are the ones the domain computes itself,
and the digest keeps the format already stored with every transfer."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.model import TransferRequest
from ledger.entrypoints import convert
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.type.v1.money_pb2 import Money

ids = st.text("abcdefghij.-:_0123456789", min_size=1, max_size=12)


@st.composite
def transfer_specs(draw: st.DrawFn, index: int) -> pb.TransferSpec:
    legs = draw(st.lists(st.tuples(ids, ids, st.integers(1, 10**12)), min_size=1, max_size=4))
    pending = draw(st.booleans())
    return pb.TransferSpec(
        transfer_id=f"t{index}",
        postings=[
            pb.Posting(
                debit_account_id=f"d.{d}",
                credit_account_id=f"c.{c}",
                amount=Money(currency_code=draw(st.sampled_from(["CNY", "USD"])), minor_units=u),
            )
            for d, c, u in legs
        ],
        description=draw(st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=20)),
        metadata=draw(st.dictionaries(ids, st.text(max_size=8), max_size=3)),
        pending=pending,
        timeout_seconds=draw(st.integers(0, 3600)) if pending else 0,
    )


@settings(max_examples=60)
@given(st.data())
def test_the_readers_digest_is_the_one_the_request_computes(data: st.DataObject) -> None:
    specs = [data.draw(transfer_specs(i)) for i in range(data.draw(st.integers(1, 5)))]
    read = convert.transfer_requests(pb.CreateTransfersRequest(transfers=specs))
    for request in read:
        recomputed = replace(request, digest="")
        assert recomputed.digest == request.digest


def test_the_digest_format_is_the_stored_one() -> None:
    request = convert.transfer_requests(
        pb.CreateTransfersRequest(
            transfers=[
                pb.TransferSpec(
                    transfer_id="t1",
                    postings=[
                        pb.Posting(
                            debit_account_id="a",
                            credit_account_id="b",
                            amount=Money(currency_code="CNY", minor_units=5),
                        )
                    ],
                    description="rent",
                    metadata={"z": "1", "k": "2"},
                )
            ]
        )
    )[0]
    text = "\x1f".join(["transfer", "a,b,CNY,5", "rent", "k=2;z=1", "False", "0"])
    expected = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    assert request.digest == expected
    assert TransferRequest("t1", request.postings, "rent", {"z": "1", "k": "2"}).digest == expected

"""Where a wallet says its bill file is, as the gateway's wallet adapters take it: an http(s)
URL, and a SHA1 in hex when the wallet names one (kept lower case, as hexdigest gives it);
anything else is no usable answer."""

from __future__ import annotations

import pytest

from gateway.adapters.channels.walletsim_common import BillLocation

SHA1 = "A9993E364706816ABA3E25717850C26C9CD0D89D"


def test_a_download_url_and_its_sha1_are_taken_as_given() -> None:
    located = BillLocation.checked(
        "https://api.mch.weixin.qq.com/v3/billdownload/file?token=t", SHA1
    )
    assert located.sha1 == SHA1.lower()
    assert (
        BillLocation.checked("http://127.0.0.1:8602/downloadBillFile.resource?token=t").sha1 == ""
    )


@pytest.mark.parametrize(
    ("url", "sha1"),
    [
        ("file:///etc/passwd", ""),
        ("ftp://example.com/bill.csv", ""),
        ("/v3/billdownload/file?token=t", ""),
        ("https://example.com/bill.csv", "not-a-sha1"),
        ("https://example.com/bill.csv", SHA1[:-1]),
    ],
)
def test_anything_else_is_no_usable_answer(url: str, sha1: str) -> None:
    with pytest.raises(ValueError):
        BillLocation.checked(url, sha1)

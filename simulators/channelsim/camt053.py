"""The reserve account's day as an ISO 20022 camt.053.001.08 BankToCustomerStatement."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from xml.etree.ElementTree import Element, ElementTree, SubElement

from channelsim.amounts import yuan
from channelsim.banktime import SHANGHAI, from_epoch
from channelsim.reserve import CREDIT, DEBIT, ReserveEntry

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


@dataclass(frozen=True)
class StatementHeader:
    """Whose account, which day, and when the statement was made."""

    account_no: str
    owner: str
    bank_name: str
    bic: str
    currency: str
    day: date
    created_at: float


def _text(parent: Element, tag: str, value: str, **attributes: str) -> Element:
    element = SubElement(parent, tag, attributes)
    element.text = value
    return element


def _path(parent: Element, path: str, value: str | None = None) -> Element:
    """Creates the nested elements of "A/B/C" under parent; the last gets value as text."""
    element = parent
    for tag in path.split("/"):
        element = SubElement(element, tag)
    if value is not None:
        element.text = value
    return element


def _iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _amount(parent: Element, tag: str, minor: int, currency: str) -> None:
    _text(parent, tag, yuan(abs(minor)), Ccy=currency)


def _balance(parent: Element, code: str, minor: int, currency: str, day: date) -> None:
    bal = SubElement(parent, "Bal")
    _path(bal, "Tp/CdOrPrtry/Cd", code)
    _amount(bal, "Amt", minor, currency)
    _text(bal, "CdtDbtInd", DEBIT if minor < 0 else CREDIT)
    _path(bal, "Dt/Dt", day.isoformat())


def _summary(parent: Element, entries: Sequence[ReserveEntry]) -> None:
    credits = [e.amount for e in entries if e.indicator == CREDIT]
    debits = [e.amount for e in entries if e.indicator == DEBIT]
    summary = SubElement(parent, "TxsSummry")
    total = _path(summary, "TtlNtries")
    _text(total, "NbOfNtries", str(len(entries)))
    _text(total, "Sum", yuan(sum(credits) + sum(debits)))
    net = sum(credits) - sum(debits)
    net_entry = SubElement(total, "TtlNetNtry")
    _text(net_entry, "Amt", yuan(abs(net)))
    _text(net_entry, "CdtDbtInd", DEBIT if net < 0 else CREDIT)
    for tag, amounts in (("TtlCdtNtries", credits), ("TtlDbtNtries", debits)):
        side = SubElement(summary, tag)
        _text(side, "NbOfNtries", str(len(amounts)))
        _text(side, "Sum", yuan(sum(amounts)))


def _entry(parent: Element, entry: ReserveEntry) -> None:
    booked = from_epoch(entry.booked_at)
    ntry = SubElement(parent, "Ntry")
    _text(ntry, "NtryRef", entry.bank_ref)
    _amount(ntry, "Amt", entry.amount, entry.currency)
    _text(ntry, "CdtDbtInd", entry.indicator)
    _path(ntry, "Sts/Cd", "BOOK")
    _path(ntry, "BookgDt/DtTm", _iso(booked))
    _path(ntry, "ValDt/Dt", booked.date().isoformat())
    _text(ntry, "AcctSvcrRef", entry.bank_ref)
    domain = _path(ntry, "BkTxCd/Domn")
    _text(domain, "Cd", "PMNT")
    family = SubElement(domain, "Fmly")
    _text(family, "Cd", entry.family)
    _text(family, "SubFmlyCd", entry.sub_family)
    tx = _path(ntry, "NtryDtls/TxDtls")
    refs = SubElement(tx, "Refs")
    _text(refs, "AcctSvcrRef", entry.bank_ref)
    _text(refs, "EndToEndId", entry.end_to_end_id or "NOTPROVIDED")
    _amount(tx, "Amt", entry.amount, entry.currency)
    _text(tx, "CdtDbtInd", entry.indicator)
    if entry.charges:
        # The bank's fee is in the entry's amount (ChrgInclInd): the transfer is the rest.
        _amount(_path(tx, "AmtDtls/TxAmt"), "Amt", entry.amount - entry.charges, entry.currency)
        charges = SubElement(tx, "Chrgs")
        _amount(charges, "TtlChrgsAndTaxAmt", entry.charges, entry.currency)
        record = SubElement(charges, "Rcrd")
        _amount(record, "Amt", entry.charges, entry.currency)
        _text(record, "CdtDbtInd", DEBIT)
        _text(record, "ChrgInclInd", "true")
    party = "Dbtr" if entry.indicator == CREDIT else "Cdtr"
    _path(tx, f"RltdPties/{party}/Pty/Nm", entry.counterparty)
    _path(tx, "RmtInf/Ustrd", entry.remittance)


def render_camt053(header: StatementHeader, opening: int, entries: Sequence[ReserveEntry]) -> bytes:
    """The statement: opening booked balance, the day's entries, closing booked balance."""
    created = from_epoch(header.created_at)
    stamp = header.day.strftime("%Y%m%d")
    document = Element("Document", {"xmlns": NAMESPACE})
    root = SubElement(document, "BkToCstmrStmt")
    group = SubElement(root, "GrpHdr")
    _text(group, "MsgId", f"CAMT053-{header.account_no}-{stamp}-{int(header.created_at)}")
    _text(group, "CreDtTm", _iso(created))
    stmt = SubElement(root, "Stmt")
    _text(stmt, "Id", f"{header.account_no}-{stamp}")
    _text(stmt, "ElctrncSeqNb", stamp)
    _text(stmt, "CreDtTm", _iso(created))
    span = SubElement(stmt, "FrToDt")
    start = datetime(header.day.year, header.day.month, header.day.day, tzinfo=SHANGHAI)
    _text(span, "FrDtTm", _iso(start))
    _text(span, "ToDtTm", _iso(start.replace(hour=23, minute=59, second=59)))
    account = SubElement(stmt, "Acct")
    _path(account, "Id/Othr/Id", header.account_no)
    _text(account, "Ccy", header.currency)
    _path(account, "Ownr/Nm", header.owner)
    institution = _path(account, "Svcr/FinInstnId")
    _text(institution, "BICFI", header.bic)
    _text(institution, "Nm", header.bank_name)
    closing = opening + sum(e.signed for e in entries)
    _balance(stmt, "OPBD", opening, header.currency, header.day)
    _balance(stmt, "CLBD", closing, header.currency, header.day)
    _summary(stmt, entries)
    for entry in entries:
        _entry(stmt, entry)
    out = io.BytesIO()
    ElementTree(document).write(out, encoding="UTF-8", xml_declaration=True)
    return out.getvalue()

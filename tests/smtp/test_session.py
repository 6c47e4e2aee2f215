"""The SMTP server's command state without I/O (milter/smtp/session.py): what each
command is answered in each state, and what it leaves behind."""

from __future__ import annotations

from milter.smtp.replies import SHUTTING_DOWN, Reply
from milter.smtp.session import (
    IN_TRANSACTION,
    NEED_HELO,
    NEED_MAIL,
    NEED_RCPT,
    NESTED_MAIL,
    NO_EXTENSIONS,
    OK,
    TOO_BIG,
    XFORWARD_DENIED,
    CommandState,
    Transaction,
)


def greeted(verb: str = "EHLO", **options: object) -> CommandState:
    state = CommandState(max_message_size=1000, peer_addr="192.0.2.1", peer_port=2525)
    for name, value in options.items():
        setattr(state, name, value)
    assert state.greet(verb, "client.example") is None
    return state


def test_nothing_before_a_greeting() -> None:
    state = CommandState(max_message_size=1000)
    assert state.mail("FROM:<a@x.example>") is NEED_HELO
    assert state.rcpt("TO:<b@x.example>") is NEED_HELO
    assert state.data(None) is NEED_HELO
    assert state.greet("EHLO", "") == Reply(501, "5.5.4 Syntax: EHLO hostname")
    assert state.helo is None


def test_mail_rcpt_data_in_order() -> None:
    state = greeted()
    assert state.rcpt("TO:<b@x.example>") is NEED_MAIL
    tx = state.mail("FROM:<a@x.example> SIZE=10")
    assert isinstance(tx, Transaction) and state.tx is tx
    assert tx.mail_from == "a@x.example"
    assert state.mail("FROM:<c@x.example>") is NESTED_MAIL
    assert state.data(None) is NEED_RCPT
    got = state.rcpt("TO:<b@x.example> NOTIFY=NEVER")
    assert not isinstance(got, Reply)
    assert got[:2] == (tx, "b@x.example")
    state.accepted(*got)
    assert state.data("now") == Reply(501, "5.5.4 Syntax: DATA")
    assert state.data(None) is tx
    assert tx.envelope().rcpt_to == ("b@x.example",)


def test_parameters_need_ehlo_and_size_is_refused_at_mail() -> None:
    state = greeted("HELO")
    assert state.mail("FROM:<a@x.example> SIZE=10") is NO_EXTENSIONS
    assert state.tx is None
    assert greeted().mail("FROM:<a@x.example> SIZE=1001") is TOO_BIG
    assert greeted().mail("FROM:<a@x.example>", draining=True) is SHUTTING_DOWN
    assert greeted().mail("FROM:a@x.example").code == 501  # no angle brackets


def test_a_recipient_accepted_after_the_transaction_ended_is_not_added() -> None:
    state = greeted()
    tx = state.mail("FROM:<a@x.example>")
    assert isinstance(tx, Transaction)
    assert state.end() is tx
    state.accepted(tx, "b@x.example", ())
    assert tx.recipients == []


def test_xforward_only_from_authorised_peers_and_outside_a_transaction() -> None:
    assert greeted().xforward_command("ADDR=192.0.2.7") is XFORWARD_DENIED
    state = greeted(xforward_allowed=True)
    assert state.xforward_command("ADDR=192.0.2.7 HELO=mx.example") == OK
    assert state.xforward_command("NAME=mx.example") == OK  # adds to the first
    tx = state.mail("FROM:<a@x.example>")
    assert isinstance(tx, Transaction)
    assert (tx.client.addr, tx.client.name, tx.client.helo) == (
        "192.0.2.7",
        "mx.example",
        "mx.example",
    )
    assert state.xforward_command("ADDR=192.0.2.8") is IN_TRANSACTION
    state.end()
    refused = state.xforward_command("ADDR=999.1.1.1")  # looks like an IP, is none
    assert refused.code == 501 and state.xforward is None


def test_xforward_lasts_one_transaction_unless_mail_was_refused() -> None:
    state = greeted(xforward_allowed=True)
    state.xforward_command("ADDR=192.0.2.7")
    state.mail("FROM:<a@x.example>")
    state.end(keep_xforward=True)  # the handler refused MAIL: not started
    assert state.xforward is not None
    state.mail("FROM:<a@x.example>")
    state.end()  # DATA done, or RSET
    assert state.xforward is None
    tx = state.mail("FROM:<a@x.example>")
    assert isinstance(tx, Transaction)
    assert (tx.client.addr, tx.client.port, tx.client.proto) == ("192.0.2.1", 2525, "ESMTP")


def test_the_client_helo_is_neutered_for_headers_and_logs() -> None:
    state = CommandState(max_message_size=1000, peer_addr="192.0.2.1")
    state.greet("HELO", "evil\x1b[31m\r\nX-Injected: yes")
    tx = state.mail("FROM:<a@x.example>")
    assert isinstance(tx, Transaction)
    helo = tx.client.helo or ""
    assert "\r" not in helo and "\n" not in helo and "\x1b" not in helo
    assert tx.client.proto == "SMTP"

"""The client address and HELO from a trusted MTA's Received header."""

from __future__ import annotations

from milter.mail.received import ReceivedClient, client_from_received

POSTFIX = (
    "from mail.sender.example (mail.sender.example [192.0.2.7])\r\n"
    "\tby mx.example.org (Postfix) with ESMTPS id 4Xyz12; Fri, 27 Nov 2026 08:00:00 +0100"
)
FORGED_BELOW = (
    "from trusted.example ([198.51.100.1]) by mx.example.org (Postfix) with SMTP id 1; "
    "Fri, 27 Nov 2026 07:00:00 +0100"
)


def test_postfix_header_from_the_trusted_mta():
    assert client_from_received([POSTFIX], ["mx.example.org"]) == ReceivedClient(
        "192.0.2.7", "mail.sender.example", "mx.example.org"
    )


def test_only_the_topmost_trusted_header_counts():
    # The sender can write any Received header below the trusted one.
    found = client_from_received([POSTFIX, FORGED_BELOW], ["MX.example.org."])
    assert found is not None and found.ip == "192.0.2.7"


def test_headers_by_other_hosts_are_ignored():
    internal = "from localhost (localhost [127.0.0.1]) by mailstore.example.org; date"
    assert client_from_received([internal, POSTFIX], ["mx.example.org"]).ip == "192.0.2.7"
    assert client_from_received([POSTFIX], ["other.example.org"]) is None
    assert client_from_received([POSTFIX], []) is None


def test_helo_comment_and_ipv6():
    exim = "from [2001:db8::7] (helo=sender.example) by mx.example.org with esmtps; date"
    assert client_from_received([exim], ["mx.example.org"]) == ReceivedClient(
        "2001:db8::7", "sender.example", "mx.example.org"
    )
    sendmail = "from unknown (HELO liar.example) ([IPv6:2001:db8::8]) by mx.example.org; date"
    found = client_from_received([sendmail], ["mx.example.org"])
    assert found == ReceivedClient("2001:db8::8", "liar.example", "mx.example.org")


def test_no_usable_address_gives_nothing():
    assert (
        client_from_received(["from x (y [not-an-ip]) by mx.example.org"], ["mx.example.org"])
        is None
    )
    assert client_from_received(["by mx.example.org; date"], ["mx.example.org"]) is None

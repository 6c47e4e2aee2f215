"""MAIL FROM / RCPT TO arguments: addresses and ESMTP parameters, kept as sent."""

from __future__ import annotations

import pytest

from milter.smtp.params import ParamError, parse_mail, parse_rcpt, size_param

MAIL_CASES = [
    # (argument, address, params)
    ("FROM:<alice@example.com>", "alice@example.com", ()),
    ("from:<alice@example.com>", "alice@example.com", ()),
    ("FROM:<>", "", ()),  # the null sender of bounces
    ("FROM:<> BODY=8BITMIME", "", (("BODY", "8BITMIME"),)),
    # A space after the colon: not RFC 5321, but common and accepted by Postfix.
    ("FROM: <alice@example.com>", "alice@example.com", ()),
    # DSN parameters keep their case (RFC 3461: ENVID is case-sensitive data).
    (
        "FROM:<alice@example.com> ENVID=QQ314159 RET=HDRS",
        "alice@example.com",
        (("ENVID", "QQ314159"), ("RET", "HDRS")),
    ),
    (
        "FROM:<a@example.com> envid=Qq+2B1 ret=full",
        "a@example.com",
        (("envid", "Qq+2B1"), ("ret", "full")),
    ),
    ("FROM:<a@example.com> SIZE=12345", "a@example.com", (("SIZE", "12345"),)),
    ("FROM:<a@example.com> BODY=7bit", "a@example.com", (("BODY", "7bit"),)),
    ("FROM:<a@example.com> SMTPUTF8", "a@example.com", (("SMTPUTF8", None),)),
    # Unknown but well-formed parameters pass on for the next hop to judge.
    ("FROM:<a@example.com> AUTH=<> X-Foo=Bar", "a@example.com", (("AUTH", "<>"), ("X-Foo", "Bar"))),
    (
        "FROM:<a@example.com> MT-PRIORITY=3 REQUIRETLS",
        "a@example.com",
        (("MT-PRIORITY", "3"), ("REQUIRETLS", None)),
    ),
    # Several spaces between parameters are tolerated.
    (
        "FROM:<a@example.com>  SIZE=1   BODY=8BITMIME",
        "a@example.com",
        (("SIZE", "1"), ("BODY", "8BITMIME")),
    ),
    # Quoted local parts, with spaces, ">" and escaped quotes inside.
    ('FROM:<"john doe"@example.com>', '"john doe"@example.com', ()),
    ('FROM:<"a>b"@example.com> SIZE=5', '"a>b"@example.com', (("SIZE", "5"),)),
    ('FROM:<"say \\"hi\\""@example.com>', '"say \\"hi\\""@example.com', ()),
    ('FROM:<"a@b"@example.com>', '"a@b"@example.com', ()),
    # SMTPUTF8 (RFC 6531): UTF-8 local part and domain.
    ("FROM:<jöran@bücher.example> SMTPUTF8", "jöran@bücher.example", (("SMTPUTF8", None),)),
    ("FROM:<用户@例子.广告> SMTPUTF8", "用户@例子.广告", (("SMTPUTF8", None),)),
    # Address literals.
    ("FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]", ()),
    ("FROM:<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]", ()),
    # A source route is accepted and dropped (RFC 5321 4.1.2, appendix C).
    ("FROM:<@relay.example,@hub.example:a@example.com>", "a@example.com", ()),
    # Irregular dots that Postfix accepts (strict_rfc821_envelopes = no).
    ("FROM:<john..doe@example.com>", "john..doe@example.com", ()),
    ("FROM:<doe.@example.com>", "doe.@example.com", ()),
    # Case of the address is kept.
    ("FROM:<Bob@Example.COM>", "Bob@Example.COM", ()),
]


@pytest.mark.parametrize(("argument", "address", "params"), MAIL_CASES)
def test_parse_mail(argument: str, address: str, params: tuple) -> None:
    assert parse_mail(argument) == (address, params)


RCPT_CASES = [
    ("TO:<bob@example.com>", "bob@example.com", ()),
    (
        "TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.COM",
        "bob@example.com",
        (("NOTIFY", "SUCCESS,FAILURE"), ("ORCPT", "rfc822;Bob@Example.COM")),
    ),
    ("TO:<b@example.com> NOTIFY=never", "b@example.com", (("NOTIFY", "never"),)),
    ("TO:<b@example.com> notify=Delay", "b@example.com", (("notify", "Delay"),)),
    (
        "TO:<b@example.com> ORCPT=rfc822;b+2Bx@example.com",
        "b@example.com",
        (("ORCPT", "rfc822;b+2Bx@example.com"),),
    ),
    # RFC 6533 utf-8 address type.
    (
        "TO:<b@example.com> ORCPT=utf-8;jöran@bücher.example",
        "b@example.com",
        (("ORCPT", "utf-8;jöran@bücher.example"),),
    ),
    # RFC 5321 4.1.1.3: Postmaster without a domain.
    ("TO:<Postmaster>", "Postmaster", ()),
    ("TO:<postmaster@example.com>", "postmaster@example.com", ()),
    ("to:<üser@example.com>", "üser@example.com", ()),
    ("TO:<b@example.com> X-UNKNOWN=1", "b@example.com", (("X-UNKNOWN", "1"),)),
]


@pytest.mark.parametrize(("argument", "address", "params"), RCPT_CASES)
def test_parse_rcpt(argument: str, address: str, params: tuple) -> None:
    assert parse_rcpt(argument) == (address, params)


MAIL_ERRORS = [
    # (argument, code, enhanced code)
    (None, 501, "5.5.4"),
    ("", 501, "5.5.4"),
    ("TO:<a@example.com>", 501, "5.5.4"),
    ("FROM:a@example.com", 501, "5.5.4"),  # no angle brackets
    ("FROM:<a@example.com", 501, "5.5.4"),
    ("FROM:<a@example.com>SIZE=1", 501, "5.5.4"),
    ('FROM:<"unterminated@example.com>', 501, "5.5.4"),
    ("FROM:<a@>", 501, "5.1.7"),
    ("FROM:<@example.com>", 501, "5.1.7"),
    ("FROM:<a b@example.com>", 501, "5.1.7"),
    ("FROM:<a@exa mple.com>", 501, "5.1.7"),
    ("FROM:<a@example..com>", 501, "5.1.7"),
    ("FROM:<a@[300.1.1.1]>", 501, "5.1.7"),
    ("FROM:<a@[IPv6:nope]>", 501, "5.1.7"),
    ("FROM:<Postmaster>", 501, "5.1.7"),  # no domain: RCPT only
    ("FROM:<a\udcff@example.com>", 501, "5.1.7"),  # not UTF-8
    ("FROM:<a@example.com> =1", 501, "5.5.4"),
    ("FROM:<a@example.com> -X=1", 501, "5.5.4"),
    ("FROM:<a@example.com> X_Y=1", 501, "5.5.4"),
    ("FROM:<a@example.com> SIZE=", 501, "5.5.4"),
    ("FROM:<a@example.com> X=a=b", 501, "5.5.4"),
    ("FROM:<a@example.com> X=\x01", 501, "5.5.4"),
    ("FROM:<a@example.com> SIZE=1 size=2", 501, "5.5.4"),  # duplicate
    ("FROM:<a@example.com> SIZE", 501, "5.5.4"),
    ("FROM:<a@example.com> SIZE=12a", 501, "5.5.4"),
    ("FROM:<a@example.com> BODY=9BIT", 501, "5.5.4"),
    ("FROM:<a@example.com> BODY=BINARYMIME", 555, "5.5.4"),  # needs CHUNKING
    ("FROM:<a@example.com> SMTPUTF8=yes", 501, "5.5.4"),
    ("FROM:<a@example.com> RET=ALL", 501, "5.5.4"),
    ("FROM:<a@example.com> ENVID=has+zz", 501, "5.5.4"),
    ("FROM:<a@example.com> ENVID=" + "x" * 101, 501, "5.5.4"),
    ("FROM:<a@example.com> NOTIFY=SUCCESS", 555, "5.5.4"),  # a RCPT parameter
    ("FROM:<a@example.com> ORCPT=rfc822;a@example.com", 555, "5.5.4"),
]


@pytest.mark.parametrize(("argument", "code", "enhanced"), MAIL_ERRORS)
def test_parse_mail_errors(argument: str | None, code: int, enhanced: str) -> None:
    with pytest.raises(ParamError) as info:
        parse_mail(argument)
    assert info.value.reply.code == code
    assert info.value.reply.text.startswith(enhanced + " ")
    assert info.value.reply.text.isascii()


RCPT_ERRORS = [
    (None, 501, "5.5.4"),
    ("FROM:<b@example.com>", 501, "5.5.4"),
    ("TO:<>", 501, "5.1.3"),
    ("TO:<b>", 501, "5.1.3"),
    ("TO:<b@example.com> NOTIFY=SOMETIMES", 501, "5.5.4"),
    ("TO:<b@example.com> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"),
    ("TO:<b@example.com> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4"),
    ("TO:<b@example.com> NOTIFY", 501, "5.5.4"),
    ("TO:<b@example.com> ORCPT=b@example.com", 501, "5.5.4"),  # no addr-type
    ("TO:<b@example.com> ORCPT=rfc822;", 501, "5.5.4"),
    ("TO:<b@example.com> SIZE=1", 555, "5.5.4"),  # MAIL parameters
    ("TO:<b@example.com> RET=HDRS", 555, "5.5.4"),
    ("TO:<b@example.com> SMTPUTF8", 555, "5.5.4"),
]


@pytest.mark.parametrize(("argument", "code", "enhanced"), RCPT_ERRORS)
def test_parse_rcpt_errors(argument: str | None, code: int, enhanced: str) -> None:
    with pytest.raises(ParamError) as info:
        parse_rcpt(argument)
    assert info.value.reply.code == code
    assert info.value.reply.text.startswith(enhanced + " ")


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ((), None),
        ((("SIZE", "0"),), 0),
        ((("size", "52428800"), ("BODY", "8BITMIME")), 52428800),
        ((("BODY", "8BITMIME"),), None),
    ],
)
def test_size_param(params: tuple, size: int | None) -> None:
    assert size_param(params) == size

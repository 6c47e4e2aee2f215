"""Write the test messages in scam/ and ham/ (tests/scan/test_shipped_rules.py scans them).

    python tests/messages/generate.py

The .eml files are committed; this script is how they were made, kept so that a message
can be changed and rebuilt. It is deterministic (fixed dates, ids and MIME boundaries).
Several scams need it: quoted-printable and base64 bodies, Cyrillic and Greek look-alike
letters, zero-width spaces, a PDF attachment (milter.scan.rules.examples.make_pdf).

Every text is written for these tests. The bitcoin addresses are either BIP-173 test
vectors or Base58Check encodings of made-up hashes (base58check below), so they pass a
checksum test but belong to nobody. Names, domains and case numbers are invented; IP
addresses are from the documentation ranges (RFC 5737).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from milter.scan.rules.examples import make_pdf  # noqa: E402

POLICY = policy.default.clone(linesep="\n", max_line_length=78)

# --- Obfuscation helpers ------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(version: int, payload: bytes) -> str:
    """Bitcoin's Base58Check: version byte, payload, 4 bytes of double SHA-256."""
    data = bytes([version]) + payload
    data += hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4]
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def wallet(seed: str, version: int = 0) -> str:
    """A valid but unowned address: version 0 is P2PKH ("1..."), 5 is P2SH ("3...")."""
    return base58check(version, hashlib.sha256(seed.encode()).digest()[:20])


# BIP-173 test vectors (P2WPKH and P2WSH).
BIP173_P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
BIP173_P2WSH = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"

_CYRILLIC = str.maketrans("aceopxyiABCEHKMOPTX", "асеорхуіАВСЕНКМОРТХ")
_GREEK = str.maketrans("oiaABEHIKMNOPTXYZ", "οιαΑΒΕΗΙΚΜΝΟΡΤΧΥΖ")
ZWSP = "\u200b"
ZWNJ = "\u200c"


def cyr(word: str) -> str:
    """The word with its Latin letters that have a Cyrillic twin replaced by it."""
    return word.translate(_CYRILLIC)


def greek(word: str) -> str:
    """The word with its Latin letters that have a Greek twin replaced by it."""
    return word.translate(_GREEK)


def zw(word: str, mark: str = ZWSP) -> str:
    """The word with an invisible character between its letters."""
    return mark.join(word)


def split(address: str, size: int = 5, sep: str = " ") -> str:
    return sep.join(address[i : i + size] for i in range(0, len(address), size))


# --- Building messages --------------------------------------------------------------------


@dataclass
class Attachment:
    name: str
    data: bytes
    maintype: str = "application"
    subtype: str = "pdf"


@dataclass
class Mail:
    name: str  # scam/xxx or ham/xxx, without .eml
    sender: str
    to: str
    subject: str
    date: str
    text: str | None = None
    html: str | None = None
    cte: str = "8bit"  # transfer encoding of the text parts
    charset: str = "utf-8"
    attachments: list[Attachment] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)  # before From
    extra: list[tuple[str, str]] = field(default_factory=list)  # after Message-ID
    received: str = ""
    raw: str | None = None  # a whole message, written as is


def message_id(mail: Mail) -> str:
    digest = hashlib.sha256(mail.name.encode()).hexdigest()[:16]
    domain = mail.sender.rpartition("@")[2].rstrip(">") or "localhost"
    return f"<{digest}@{domain}>"


def build(mail: Mail) -> bytes:
    if mail.raw is not None:
        return mail.raw.lstrip("\n").encode("utf-8")
    msg = EmailMessage(policy=POLICY)
    if mail.received:
        msg["Received"] = mail.received
    for name, value in mail.headers:
        msg[name] = value
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = mail.date
    msg["Message-ID"] = message_id(mail)
    for name, value in mail.extra:
        msg[name] = value
    msg["MIME-Version"] = "1.0"
    if mail.text is not None:
        msg.set_content(mail.text, charset=mail.charset, cte=mail.cte)
    if mail.html is not None:
        if mail.text is not None:
            msg.add_alternative(mail.html, subtype="html", charset=mail.charset, cte=mail.cte)
        else:
            msg.set_content(mail.html, subtype="html", charset=mail.charset, cte=mail.cte)
    if mail.text is None and mail.html is None:
        msg.make_mixed()
    for attachment in mail.attachments:
        msg.add_attachment(
            attachment.data,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.name,
        )
    for number, part in enumerate(msg.walk()):
        if part is not msg:
            del part["MIME-Version"]
        if part.is_multipart():
            part.set_boundary(f"----=_Part_{number}_{message_id(mail)[1:9]}")
    return msg.as_bytes(policy=POLICY)


def received(helo: str, ip: str, by: str, date: str) -> str:
    return f"from {helo} ({helo} [{ip}]) by {by} (Postfix) with ESMTP; {date}"


# --- Sextortion ---------------------------------------------------------------------------

BTC_EN = wallet("scam-milter test: sextortion en 1")
BTC_EN_OWN = wallet("scam-milter test: sextortion en own account", version=5)
BTC_EN_GLYPH = wallet("scam-milter test: sextortion en homoglyphs")
BTC_EN_ZW = wallet("scam-milter test: sextortion en zero width", version=5)
BTC_EN_SPLIT = wallet("scam-milter test: sextortion en split")
BTC_EN_HTML = wallet("scam-milter test: sextortion en html")
BTC_NL = wallet("scam-milter test: sextortion nl 1")
BTC_NL_QP = wallet("scam-milter test: sextortion nl qp", version=5)
BTC_FR = wallet("scam-milter test: sextortion fr 1")
BTC_FR_B64 = wallet("scam-milter test: sextortion fr base64", version=5)
BTC_DE = wallet("scam-milter test: sextortion de 1")
BTC_DE_GLYPH = wallet("scam-milter test: sextortion de homoglyphs")

SEXTORTION = [
    Mail(
        name="scam/sextortion_en_classic",
        sender="Support Team <noreply.7731@secure-node-mailer.top>",
        to="daniel.peeters@example.com",
        subject="Your device has been compromised",
        date="Mon, 13 Feb 2023 08:41:17 +0100",
        received=received(
            "mx3.secure-node-mailer.top",
            "203.0.113.77",
            "mx.example.com",
            "Mon, 13 Feb 2023 08:41:19 +0100",
        ),
        text=f"""\
Hello,

I am a professional programmer and I have some bad news for you.

A few months ago I gained full access to your devices through a remote access
trojan that I planted on a website you visited. Since then I have been watching
everything you do: your browser, your messages, your camera and your microphone.

I know you like to visit adult websites. While you were watching porn videos, my
software turned on your webcam and recorded you pleasuring yourself. I made a
split-screen video: on one side the clip you were watching, on the other side
your face.

With one click I can send this video to all your contacts, your colleagues and
your family, and post it on your social networks.

If you want me to delete everything, send exactly $1450 (USD) in Bitcoin to my
wallet:

{BTC_EN}

If you do not know how to buy bitcoin, search Google for "how to buy bitcoin".
It is easy.

You have 48 hours from the moment you opened this email. The timer has already
started: a tracking pixel told me when you read this letter. Once I receive the
payment, the video and my software are removed and you will never hear from me
again.

Do not reply to this email, the address is random. Do not go to the police: I
cannot be traced, and the video will be published at once.

Good luck.
""",
    ),
    Mail(
        name="scam/sextortion_en_own_account",
        sender="marie.lambert@example.net",
        to="marie.lambert@example.net",
        subject="Security alert for marie.lambert@example.net: account compromised",
        date="Tue, 21 Mar 2023 14:02:55 +0000",
        received=received(
            "host-198-51-100-23.example-isp.vn",
            "198.51.100.23",
            "mx.example.net",
            "Tue, 21 Mar 2023 14:02:58 +0000",
        ),
        text=f"""\
Hi!

As you may have noticed, I sent you this email from your own account
(marie.lambert@example.net). Yes, this means I have full access to your account
and to the device you use to read it.

I infected your computer with malware some time ago, when you visited an adult
site. The malware gave me complete control: I could see your screen and switch on
your camera whenever I wanted.

I made a video of you masturbating while you watched those clips. I also have your
contact list, so I know exactly who should see it first.

I am not greedy. Pay 900 EUR in bitcoin (BTC) to this address:

{BTC_EN_OWN}

You have 2 days to make the payment. When I see the transaction, I will delete the
video and remove my malware from your computer. If I do not get the money, I will
send the video to all your contacts and colleagues.

Do not try to reply, and do not tell anyone about this message.
""",
    ),
    Mail(
        name="scam/sextortion_en_homoglyphs_qp",
        sender="=?utf-8?q?=D0=90dmin?= <info@kzn-shop-online.ru>",
        to="t.janssens@example.be",
        subject=f"You have been {cyr('hacked')}. Read this carefully",
        date="Wed, 05 Apr 2023 03:17:40 +0300",
        cte="quoted-printable",
        received=received(
            "kzn-shop-online.ru", "192.0.2.145", "mx.example.be", "Wed, 05 Apr 2023 02:17:44 +0200"
        ),
        text=f"""\
Hello.

I have bad news for you. I {cyr("hacked")} your {cyr("computer")} and installed a
{cyr("trojan")} on it about three months ago. It gives me full access to your
{cyr("device")}, your {cyr("accounts")} and your {cyr("webcam")}.

I know you visit {cyr("porn")} sites. My {cyr("software")} {cyr("recorded")} you through
your {cyr("webcam")} while you were {cyr("masturbating")}. I have the video and the list
of all your {cyr("contacts")}.

I will send the video to all your {cyr("contacts")} and friends unless you pay me
$1300 in {cyr("Bitcoin")}.

My {cyr("BTC")} wallet: {BTC_EN_GLYPH}

You have 48 hours. The countdown started when you opened this letter. Do not
contact the police, it is useless.
""",
    ),
    Mail(
        name="scam/sextortion_en_zero_width_base64",
        sender="Anonymous <anon.4421@mailbox-relay.xyz>",
        to="s.dubois@example.org",
        subject="Regarding your private video",
        date="Thu, 18 May 2023 22:48:03 +0200",
        cte="base64",
        received=received(
            "mailbox-relay.xyz", "203.0.113.9", "mx.example.org", "Thu, 18 May 2023 22:48:09 +0200"
        ),
        text=f"""\
Hello,

I have been watching you for a while. I {zw("hacked")} your {zw("device")} with a
{zw("spyware")} program and it still runs in the background.

Last week I {zw("recorded")} you with your {zw("webcam")} while you were on a
{zw("porn")} site and {zw("masturbating")}. The recording is saved on my server.

I will {zw("send")} this {zw("video")} to all your {zw("contacts")}, your family
and your colleagues, unless you transfer $1200 in {zw("Bitcoin")} to this wallet:

{BTC_EN_ZW}

You have 72 hours. I will know as soon as you open this email. Don't tell
anyone and do not go to the police.
""",
    ),
    Mail(
        name="scam/sextortion_en_split_address",
        sender="<no-reply@vps-88213.example-cloud.net>",
        to="kevin.martens@example.com",
        subject="I know your secret",
        date="Fri, 09 Jun 2023 06:12:44 +0000",
        received=received(
            "vps-88213.example-cloud.net",
            "198.51.100.201",
            "mx.example.com",
            "Fri, 09 Jun 2023 08:12:47 +0200",
        ),
        text=f"""\
I'll be short. I got access to your phone and recorded you with its camera while
you were watching porn. Your browsing history is on my disk too.

Pay 0.05 BTC (about 1300 USD) to this Bitcoin address (copy it without the
spaces, it is written like this so that spam filters do not eat it):

{split(BTC_EN_SPLIT, 4)}

If I do not get the bitcoin within 72 hours, I will send the video to everyone in
your contact list. After the payment I erase it. The timer is running.
""",
    ),
    Mail(
        name="scam/sextortion_en_html_only",
        sender="Security Department <alerts@acc-verify-center.info>",
        to="lisa.wouters@example.com",
        subject="Pending payment: your privacy",
        date="Sat, 15 Jul 2023 11:30:00 +0000",
        cte="quoted-printable",
        received=received(
            "acc-verify-center.info",
            "192.0.2.61",
            "mx.example.com",
            "Sat, 15 Jul 2023 13:30:04 +0200",
        ),
        html=f"""\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Notice</title></head>
<body style="font-family:Arial,sans-serif;font-size:14px">
<div style="display:none">Weekly garden tips: prune roses in early spring, water
tomatoes in the morning, and mulch the beds before the summer heat. Recipe of the
week: lemon cake with poppy seeds. Thank you for reading our newsletter.</div>
<p>Hello,</p>
<p>I have to tell you something unpleasant. I <b>hacked your device</b> several
months ago and installed a trojan on it. Since then I have seen everything you do.</p>
<p>You visit <span>porn</span> <span>sites</span> a lot. My program
<b>recorded you</b> through your webcam while you were
mas<span style="font-size:0px">xq</span>turbating, and I saved the footage.</p>
<p>I will send the video to all your contacts and to your family unless you pay
<b>$1650</b> in <b>Bitcoin</b> to my wallet:</p>
<p style="font-family:monospace;font-size:16px">{BTC_EN_HTML}</p>
<p>You have <b>48 hours</b> after reading this letter. Do not reply and do not go to
the police, nobody can help you.</p>
<p style="color:#ffffff;font-size:2px">invoice shipment tracking order confirmation
meeting agenda quarterly report</p>
</body></html>
""",
    ),
    Mail(
        name="scam/sextortion_en_password",
        sender="kevin.martens <kevin.martens@example.com>",
        to="kevin.martens@example.com",
        subject="kevin.martens: Summer2019!",
        date="Mon, 14 Aug 2023 17:55:21 -0400",
        received=received(
            "static-203-0-113-50.example.br",
            "203.0.113.50",
            "mx.example.com",
            "Mon, 14 Aug 2023 23:55:26 +0200",
        ),
        text=f"""\
I know Summer2019! is one of your passwords. Let's get straight to the point.

Nobody has paid me to check on you. You do not know me, and you are probably
wondering why you are getting this email.

I installed a malware on an adult video website, and guess what, you visited that
site to have some fun (you know what I mean). While you were watching videos, your
browser started working as an RDP with a keylogger, which gave me access to your
screen and your webcam. After that my software collected all your contacts from
Messenger, Facebook and your email account.

I made a double-screen video: the first part shows the video you were watching
(you have a nice taste, haha), the second part shows the recording of your webcam.

You have two options. Either you ignore this email, and I will send your video to
all of your contacts, relatives and coworkers. Or you pay me $1900. Let's call it
a donation. My BTC address is:

{BIP173_P2WPKH}

(it is case sensitive, copy and paste it)

You have 24 hours to pay. I have a specific pixel in this email, so I know that you
have read it. If I do not receive the bitcoins, I will definitely send your video
to all of your contacts. If I get paid, I will destroy the video immediately.
""",
    ),
    Mail(
        name="scam/sextortion_nl_belgian_wave",
        sender="Onbekende <beheer@fjordline-services.com>",
        to="els.vandamme@example.be",
        subject="Je apparaat is gehackt",
        date="Mon, 13 Feb 2023 07:58:12 +0100",
        received=received(
            "fjordline-services.com",
            "198.51.100.14",
            "mx.example.be",
            "Mon, 13 Feb 2023 07:58:15 +0100",
        ),
        text=f"""\
Hallo,

Ik heb slecht nieuws voor je. Enkele maanden geleden heb ik je apparaat gehackt
waarmee je op het internet surft. Via een trojan die ik op een website heb
geplaatst, heb ik volledige toegang tot al je apparaten gekregen: je computer, je
telefoon en je e-mailaccount.

Ik weet dat je graag pornosites bezoekt. Terwijl je naar porno keek, heb ik je
gefilmd met je webcam en heb ik opgenomen hoe je jezelf bevredigde. Daarvan heb ik
een video gemaakt: links zie je wat je bekeek, rechts zie je jezelf.

Als je wilt dat ik alles verwijder, maak je 1.300 euro over in bitcoin naar dit
adres:

{BTC_NL}

Weet je niet hoe je bitcoin koopt? Typ "bitcoin kopen" in Google, het is heel
eenvoudig.

Je hebt 48 uur de tijd. De timer is gestart zodra je deze e-mail hebt geopend.
Zodra ik de betaling ontvang, wis ik de video en hoor je nooit meer iets van mij.
Als ik het geld niet binnen 48 uur ontvang, krijgen al je contacten, je familie en
je collega's de compromitterende beelden te zien.

Ga niet naar de politie en vertel dit aan niemand. Ik kan niet opgespoord worden.
""",
    ),
    Mail(
        name="scam/sextortion_nl_own_account_qp",
        sender="els.vandamme@example.be",
        to="els.vandamme@example.be",
        subject="Waarschuwing: uw account is overgenomen",
        date="Wed, 15 Feb 2023 12:20:40 +0100",
        cte="quoted-printable",
        received=received(
            "pool-192-0-2-88.example-dsl.in",
            "192.0.2.88",
            "mx.example.be",
            "Wed, 15 Feb 2023 12:20:43 +0100",
        ),
        text=f"""\
Goedendag,

Zoals u misschien al gemerkt hebt, heb ik u deze e-mail gestuurd vanaf uw eigen
account. Dat betekent dat ik volledige toegang heb tot uw apparaat.

Een paar maanden geleden heb ik spyware geïnstalleerd op uw computer, toen u een
website voor volwassenen bezocht. Sindsdien kan ik uw scherm zien en uw camera
aanzetten wanneer ik wil. Ik heb een video van u waarop te zien is hoe u zichzelf
bevredigt bij pornografische filmpjes.

Ik stel voor dat u 1.300 EUR in bitcoin overmaakt naar mijn bitcoin-adres:

{BTC_NL_QP}

U hebt hiervoor 2 dagen de tijd. Zodra ik de betaling zie, verwijder ik de video
en de spyware. Betaalt u niet, dan stuur ik de video naar al uw contacten,
familieleden en collega's.

Neem geen contact op met de politie en praat er met niemand over.
""",
    ),
    Mail(
        name="scam/sextortion_nl_homoglyphs_split",
        sender="Jan <jan.7312@hotmail.com>",
        to="pieter.desmet@example.be",
        subject="Laatste waarschuwing",
        date="Thu, 23 Feb 2023 19:44:08 +0100",
        received=received(
            "mail-oln040092066.outbound.protection.outlook.com",
            "203.0.113.66",
            "mx.example.be",
            "Thu, 23 Feb 2023 19:44:12 +0100",
        ),
        text=f"""\
Hallo Pieter,

Ik ben een {cyr("hacker")} en ik heb je {cyr("computer")} {cyr("gehackt")}. Mijn
{cyr("trojan")} geeft mij toegang tot je {cyr("webcam")} en je {cyr("microfoon")}.

Ik heb je {cyr("gefilmd")} met je {cyr("webcam")} terwijl je naar {cyr("porno")} keek.
Ik stuur de video naar al je {cyr("contacten")} en vrienden als je niet betaalt.

Stuur 1300 euro in {cyr("bitcoin")} naar dit adres (zonder spaties):
{split(BIP173_P2WSH, 6)}

Je hebt 48 uur. Ga niet naar de politie.
""",
    ),
    Mail(
        name="scam/sextortion_fr_classic",
        sender="Service Client <contact@promo-voyages-ete.fr>",
        to="julie.lefebvre@example.be",
        subject="Votre appareil a été piraté",
        date="Tue, 14 Feb 2023 09:05:51 +0100",
        received=received(
            "promo-voyages-ete.fr",
            "192.0.2.200",
            "mx.example.be",
            "Tue, 14 Feb 2023 09:05:55 +0100",
        ),
        text=f"""\
Bonjour,

J'ai de mauvaises nouvelles pour vous. Il y a quelques mois, j'ai piraté votre
appareil grâce à un cheval de troie que j'ai installé sur un site que vous avez
visité. Depuis, j'ai un accès complet à votre ordinateur, à votre téléphone et à
votre messagerie.

J'ai activé votre webcam et je vous ai filmé pendant que vous regardiez des vidéos
pornographiques et que vous vous masturbiez. J'ai fait un montage : d'un côté la
vidéo que vous regardiez, de l'autre votre visage.

Si vous voulez que je supprime tout, envoyez 1300€ en bitcoin à l'adresse
suivante :

{BTC_FR}

Vous avez 48 heures. Le compte à rebours a démarré dès que vous avez ouvert ce
mail. Si je ne reçois pas le paiement sous 48 heures, j'enverrai cette vidéo à
tous vos contacts, à votre famille et à vos collègues.

Ne contactez pas la police et n'en parlez à personne : je ne peux pas être tracé.
""",
    ),
    Mail(
        name="scam/sextortion_fr_base64",
        sender="Anonyme <anonyme.2291@gmx.fr>",
        to="thomas.renard@example.fr",
        subject="Ton secret",
        date="Sun, 19 Mar 2023 23:10:09 +0100",
        cte="base64",
        received=received(
            "mout.gmx.net", "203.0.113.12", "mx.example.fr", "Sun, 19 Mar 2023 23:10:12 +0100"
        ),
        text=f"""\
Salut,

Je vais être bref. J'ai piraté ton téléphone il y a deux mois avec un logiciel
espion. Il me donne accès à ta caméra, à tes messages et à tous tes contacts.

Je t'ai filmé avec ta caméra pendant que tu regardais des sites porno. J'ai la
vidéo, et je peux l'envoyer à tous tes contacts, à tes amis et à ta famille en un
clic.

Pour que j'efface tout, tu dois payer 1300 € en bitcoin à cette adresse :
{BTC_FR_B64}

Tu as 48 heures à partir de maintenant. Ne préviens pas la police, ça ne servirait
à rien.
""",
    ),
    Mail(
        name="scam/sextortion_de_classic",
        sender="Datenschutz <service@kontowartung-center.de>",
        to="markus.becker@example.de",
        subject="Ihr Gerät wurde gehackt",
        date="Mon, 24 Apr 2023 10:33:27 +0200",
        received=received(
            "kontowartung-center.de",
            "198.51.100.93",
            "mx.example.de",
            "Mon, 24 Apr 2023 10:33:30 +0200",
        ),
        text=f"""\
Hallo,

ich habe schlechte Nachrichten für Sie. Vor einigen Monaten habe ich mich in Ihr
Gerät gehackt, mit dem Sie im Internet surfen. Mein Trojaner ist auf allen Ihren
Geräten installiert und gibt mir vollen Zugriff auf Ihre Kamera, Ihr Mikrofon und
Ihre Kontakte.

Ich weiß, dass Sie gerne Pornoseiten besuchen. Ich habe mit Ihrer Kamera ein Video
aufgenommen, in dem Sie sich beim Ansehen der Filme selbst befriedigen.

Mit einem Klick kann ich dieses Video an alle Ihre Kontakte, Freunde und Kollegen
senden.

Wenn Sie das verhindern wollen, überweisen Sie 1300 EUR in Bitcoin an meine
Bitcoin-Adresse:

{BTC_DE}

Sie haben 48 Stunden Zeit. Der Timer wurde gestartet, sobald Sie diese E-Mail
geöffnet haben. Gehen Sie nicht zur Polizei und erzählen Sie niemandem davon.
""",
    ),
    Mail(
        name="scam/sextortion_de_homoglyphs_qp",
        sender="Hacker <h4ck3r@post-office-mail.info>",
        to="anna.schmidt@example.de",
        subject=f"Zahlung erforderlich: {greek('Video')}",
        date="Thu, 08 Jun 2023 15:47:19 +0200",
        cte="quoted-printable",
        received=received(
            "post-office-mail.info",
            "192.0.2.17",
            "mx.example.de",
            "Thu, 08 Jun 2023 15:47:22 +0200",
        ),
        text=f"""\
Guten Tag,

ich habe Ihr {greek("Konto")} {greek("gehackt")} und einen {greek("Trojaner")} auf Ihrem
{cyr("Computer")} {greek("installiert")}. Damit habe ich vollen Zugriff auf Ihre
{greek("Kamera")}.

Ich habe ein {greek("Video")} von Ihnen aufgenommen, während Sie {cyr("Pornos")}
angesehen und {cyr("masturbiert")} haben.

Ich werde dieses {greek("Video")} an alle Ihre {cyr("Kontakte")} schicken, wenn Sie
nicht innerhalb von 48 Stunden 1.200 EUR in {cyr("Bitcoin")} bezahlen:

{BTC_DE_GLYPH}

Versuchen Sie nicht, mir zu antworten. Wenden Sie sich nicht an die Polizei.
""",
    ),
]


# --- Authority impersonation --------------------------------------------------------------

CONVOCATION_FR = """\
POLICE FÉDÉRALE
Direction générale de la Police judiciaire
Direction centrale de la lutte contre la criminalité grave et organisée
Cybercrime - Protection des mineurs

CONVOCATION

Madame, Monsieur,

À la demande de Madame la Procureure du Roi, nous vous adressons cette
convocation dans le cadre d'une procédure judiciaire ouverte à votre encontre
suite à une saisie informatique de cyber-infiltration (autorisée en matière de
pédopornographie, pédophilie, exhibitionnisme et cyberpornographie).

Vous êtes poursuivi(e) pour les faits suivants : consultation et diffusion
d'images à caractère pédopornographique, exhibitionnisme sur internet.

Nous avons constaté que vous avez consulté des sites pédopornographiques et que
vous avez échangé des vidéos avec des mineurs. Ces faits sont punis par la loi.

Pour votre confidentialité, nous vous envoyons ce courrier électronique. Vous êtes
tenu(e) de vous faire entendre par mail en nous écrivant vos justifications afin
qu'elles soient examinées et vérifiées, dans un délai strict de 72 heures.

Passé ce délai, nous serons dans l'obligation de transmettre notre rapport à
Madame la Procureure du Roi afin d'établir un mandat d'arrêt à votre encontre.
Vous serez inscrit(e) au fichier national des délinquants sexuels et votre
dossier sera transmis aux médias.

Le Commissaire général de la Police fédérale
"""

DAGVAARDING_NL = """\
FEDERALE OVERHEIDSDIENST JUSTITIE
FEDERALE POLITIE - Directie Bestrijding Criminaliteit tegen Personen
Dienst Kinderpornografie en Cybercriminaliteit

DAGVAARDING

Geachte heer, mevrouw,

Op verzoek van de procureur des Konings richten wij u deze dagvaarding in het
kader van een gerechtelijke procedure die tegen u werd ingesteld naar aanleiding
van een computerinbeslagname bij cyberinfiltratie (toegestaan inzake
kinderpornografie, pedofilie, exhibitionisme en cyberpornografie).

U wordt beschuldigd van het bekijken en verspreiden van kinderpornografische
beelden op het internet en van exhibitionisme. Deze feiten zijn strafbaar met een
gevangenisstraf.

Om uw privacy te beschermen, sturen wij u deze e-mail. U wordt verzocht om binnen
72 uur per e-mail uw rechtvaardigingen te sturen, zodat deze kunnen worden
onderzocht en gecontroleerd.

Na deze termijn zijn wij verplicht ons verslag over te maken aan de procureur des
Konings, die een aanhoudingsbevel tegen u zal uitvaardigen. U wordt dan opgenomen
in het register van zedendelinquenten.

De commissaris-generaal van de federale politie
"""

AUTHORITY = [
    Mail(
        name="scam/govspoof_fr_convocation_gmail",
        sender="Police Fédérale <convocation.policefederale.be@gmail.com>",
        to="marc.lejeune@example.be",
        subject="CONVOCATION",
        date="Tue, 07 Mar 2023 10:14:36 +0100",
        received=received(
            "mail-wr1-f54.google.com",
            "192.0.2.54",
            "mx.example.be",
            "Tue, 07 Mar 2023 10:14:38 +0100",
        ),
        text=CONVOCATION_FR,
    ),
    Mail(
        name="scam/govspoof_fr_convocation_pdf_only",
        sender="Police Fédérale Belge <pfb.convocation2023@outlook.com>",
        to="nathalie.mertens@example.be",
        subject="Convocation",
        date="Thu, 09 Mar 2023 16:22:03 +0000",
        received=received(
            "mail-db8eur05on2101.outbound.protection.outlook.com",
            "203.0.113.101",
            "mx.example.be",
            "Thu, 09 Mar 2023 17:22:06 +0100",
        ),
        attachments=[Attachment("Convocation.pdf", make_pdf(CONVOCATION_FR))],
    ),
    Mail(
        name="scam/govspoof_nl_dagvaarding_fod_justitie",
        sender="FOD Justitie <dossier@justitie-onderzoek-be.net>",
        to="koen.vermeulen@example.be",
        subject="Dagvaarding - Dossier 2023/KP/118532",
        date="Wed, 15 Feb 2023 08:03:29 +0100",
        received=received(
            "justitie-onderzoek-be.net",
            "198.51.100.118",
            "mx.example.be",
            "Wed, 15 Feb 2023 08:03:33 +0100",
        ),
        text=DAGVAARDING_NL,
    ),
    Mail(
        name="scam/govspoof_nl_federale_politie_pdf",
        sender="Federale Politie <info@fedpol-dossiers.org>",
        to="sofie.claes@example.be",
        subject="Oproeping - Federale Politie",
        date="Fri, 17 Feb 2023 13:51:10 +0100",
        received=received(
            "fedpol-dossiers.org", "192.0.2.233", "mx.example.be", "Fri, 17 Feb 2023 13:51:14 +0100"
        ),
        text="""\
Geachte,

In bijlage vindt u uw dagvaarding. Gelieve het document aandachtig te lezen en
binnen 48 uur te antwoorden.

Federale Politie
""",
        attachments=[Attachment("Dagvaarding.pdf", make_pdf(DAGVAARDING_NL))],
    ),
    Mail(
        name="scam/govspoof_nl_boete_gmail",
        sender="Federale Politie België <federalepolitie.dossier2023@gmail.com>",
        to="wim.peeters@example.be",
        subject="Dossier kinderporno - minnelijke schikking",
        date="Mon, 20 Feb 2023 09:40:57 +0100",
        received=received(
            "mail-ej1-f41.google.com",
            "192.0.2.41",
            "mx.example.be",
            "Mon, 20 Feb 2023 09:40:59 +0100",
        ),
        text="""\
FEDERALE POLITIE
Directie van de bestrijding van de economische en financiële criminaliteit

Geachte heer Peeters,

Naar aanleiding van een onderzoek van de Federal Computer Crime Unit werd vastgesteld
dat u kinderpornografische beelden hebt bekeken en gedownload. Er loopt een
strafrechtelijke procedure tegen u.

Om de zaak zonder proces af te sluiten, kunt u een minnelijke schikking betalen van
4.850 euro. U bent verplicht deze boete binnen 48 uur te betalen. Na betaling wordt
uw dossier gesloten en niet doorgegeven aan het parket.

Betaalt u niet, dan wordt er een aanhoudingsbevel tegen u uitgevaardigd en riskeert
u een gevangenisstraf. Uw naam wordt dan ook bekendgemaakt aan de pers.

Antwoord op deze e-mail voor de betalingsgegevens.

Met vriendelijke groeten,
Commissaris-generaal
Federale Politie
""",
    ),
    Mail(
        name="scam/govspoof_en_europol",
        sender="EUROPOL - INTERPOL <europol.cybercrime.unit@outlook.com>",
        to="james.wilson@example.com",
        subject="Notice of Legal Proceedings - Ref. EC3/2023/88412",
        date="Tue, 11 Apr 2023 11:08:44 +0000",
        received=received(
            "mail-am6eur05on2052.outbound.protection.outlook.com",
            "203.0.113.52",
            "mx.example.com",
            "Tue, 11 Apr 2023 11:08:47 +0000",
        ),
        text="""\
EUROPOL
European Cybercrime Centre (EC3)
In cooperation with INTERPOL

NOTICE OF LEGAL PROCEEDINGS

Dear Sir/Madam,

At the request of the Public Prosecutor, we are sending you this summons in the
context of legal proceedings opened against you following a cyber infiltration
operation authorised in matters of child pornography, paedophilia, exhibitionism
and cyber pornography.

You are accused of viewing and sharing child sexual abuse material on the internet.
These offences are punishable by imprisonment and registration as a sex offender.

For your privacy, this notice is sent to you by email. You are required to reply
by email with your justifications within 72 hours, so that they can be examined.

After this deadline, we will be obliged to forward our report to the Public
Prosecutor, who will issue an arrest warrant against you. Your file will also be
passed to the media and to the sex offenders register.

Executive Director
Europol
""",
    ),
    Mail(
        name="scam/govspoof_en_interpol_pdf",
        sender="INTERPOL Cyber Division <interpol.notice@hotmail.com>",
        to="emma.brown@example.co.uk",
        subject="Urgent: Summons",
        date="Wed, 26 Apr 2023 07:30:12 +0000",
        received=received(
            "mail-oi1-f180.outlook.com",
            "198.51.100.180",
            "mx.example.co.uk",
            "Wed, 26 Apr 2023 07:30:15 +0000",
        ),
        text="""\
Please find attached your summons. You must reply within 72 hours.
""",
        attachments=[
            Attachment(
                "Summons.pdf",
                make_pdf(
                    "INTERPOL - International Criminal Police Organization\n"
                    "SUMMONS\n"
                    "Legal proceedings have been opened against you for child pornography,\n"
                    "paedophilia and exhibitionism. You are required to reply with your\n"
                    "justifications within 72 hours, otherwise an arrest warrant will be\n"
                    "issued and you will be registered as a sex offender.\n"
                    "Secretary General, Interpol"
                ),
            )
        ],
    ),
    Mail(
        name="scam/govspoof_fr_spf_justice_html",
        sender="SPF Justice - Police Fédérale <notification@spf-justice-be.com>",
        to="claire.dumont@example.be",
        subject="Convocation judiciaire N° 2023/PJ/44817",
        date="Mon, 06 Mar 2023 18:05:50 +0100",
        cte="quoted-printable",
        received=received(
            "spf-justice-be.com",
            "203.0.113.148",
            "mx.example.be",
            "Mon, 06 Mar 2023 18:05:53 +0100",
        ),
        html="""\
<html><body style="font-family:Times New Roman,serif">
<table width="640" align="center"><tr><td>
<p style="text-align:center"><b>ROYAUME DE BELGIQUE</b><br>
SPF Justice &ndash; Police Fédérale<br>
Direction générale de la Police judiciaire</p>
<h2 style="text-align:center">CONVOCATION</h2>
<p>Madame, Monsieur,</p>
<p>Une procédure judiciaire a été ouverte à votre encontre pour des faits de
pédopornographie et d'exhibitionnisme, constatés lors d'une opération de
cyber-infiltration.</p>
<p>Vous êtes tenu(e) de nous faire parvenir vos justifications par mail sous 72
heures. Sans réponse de votre part, un mandat d'arrêt sera délivré et vous serez
inscrit(e) au fichier des délinquants sexuels.</p>
<p>Le Commissaire général<br>Police Fédérale</p>
</td></tr></table>
</body></html>
""",
    ),
    Mail(
        name="scam/govspoof_fr_brigade_mineurs_reply_to",
        sender="Brigade de Protection des Mineurs <contact@bpm-enquetes.com>",
        to="olivier.garnier@example.fr",
        subject="Avis de poursuites judiciaires",
        date="Fri, 12 May 2023 14:26:31 +0200",
        received=received(
            "bpm-enquetes.com", "198.51.100.61", "mx.example.fr", "Fri, 12 May 2023 14:26:34 +0200"
        ),
        extra=[("Reply-To", "bpm.enquetes.paris@gmail.com")],
        text="""\
MINISTÈRE DE L'INTÉRIEUR
Direction Générale de la Police Nationale
Brigade de Protection des Mineurs

Monsieur,

Suite à une saisie informatique de cyber-infiltration, une procédure pénale est
engagée contre vous pour consultation de sites pédopornographiques et détention
d'images pédopornographiques.

Vous êtes convoqué(e) et vous devez nous adresser vos explications par courriel
dans un délai de 48 heures. Sans réponse, un mandat d'arrêt sera émis et vous
risquez une peine de prison et une amende de 75 000 euros.

Commissaire divisionnaire
Police Nationale
""",
    ),
    Mail(
        name="scam/govspoof_de_bka_vorladung",
        sender="Bundeskriminalamt <vorladung@bka-ermittlungen.info>",
        to="stefan.wagner@example.de",
        subject="Vorladung - Ermittlungsverfahren Az. 4711/23",
        date="Tue, 16 May 2023 09:12:05 +0200",
        received=received(
            "bka-ermittlungen.info",
            "192.0.2.171",
            "mx.example.de",
            "Tue, 16 May 2023 09:12:08 +0200",
        ),
        text="""\
BUNDESKRIMINALAMT
Abteilung Cybercrime

VORLADUNG

Sehr geehrte Damen und Herren,

im Auftrag der Staatsanwaltschaft wurde gegen Sie ein Ermittlungsverfahren wegen
des Besitzes und der Verbreitung von Kinderpornografie sowie Exhibitionismus
eingeleitet.

Sie werden aufgefordert, innerhalb von 72 Stunden per E-Mail eine Stellungnahme zu
senden. Nach Ablauf dieser Frist wird ein Haftbefehl gegen Sie erlassen und Ihre
Daten werden an die Presse weitergegeben.

Der Präsident des Bundeskriminalamtes
""",
    ),
    Mail(
        name="scam/govspoof_fr_gendarmerie_pornographie_infantile",
        sender="Gendarmerie Nationale <convocation@gendarmerie-interieur-gouv.com>",
        to="sylvie.moreau@example.fr",
        subject="Convocation - Procédure pénale n° 2023/0418/PI",
        date="Wed, 31 May 2023 08:47:22 +0200",
        received=received(
            "gendarmerie-interieur-gouv.com",
            "203.0.113.201",
            "mx.example.fr",
            "Wed, 31 May 2023 08:47:25 +0200",
        ),
        text="""\
MINISTÈRE DE L'INTÉRIEUR
GENDARMERIE NATIONALE
Office mineurs (OFMIN) - Lutte contre la pédocriminalité

CONVOCATION

Madame, Monsieur,

Nous vous informons qu'à la suite d'une saisie informatique, une procédure pénale
a été engagée contre vous pour détention et consultation de pornographie infantile
et pour pédocriminalité en ligne.

Conformément à la loi, vous devez nous transmettre vos explications par retour de
courriel sous 72 heures. À défaut, le dossier sera transmis au procureur de la
République, un mandat d'arrêt sera émis à votre encontre et vous encourez une peine
de prison de sept ans et une amende de 100 000 euros.

Le Général de corps d'armée
Directeur général de la Gendarmerie nationale
""",
    ),
    Mail(
        name="scam/govspoof_en_nca_indecent_images",
        sender="National Crime Agency <casework@nca-investigations.co>",
        to="oliver.hughes@example.co.uk",
        subject="NCA Notice: investigation concerning you",
        date="Thu, 29 Jun 2023 10:02:51 +0100",
        received=received(
            "nca-investigations.co",
            "198.51.100.77",
            "mx.example.co.uk",
            "Thu, 29 Jun 2023 10:02:54 +0100",
        ),
        text="""\
NATIONAL CRIME AGENCY
Child Exploitation and Online Protection Command (CEOP)

Dear Sir/Madam,

Following a seizure of computer data, you are under investigation for making,
possessing and distributing indecent images of children.

You are required to reply to this email with your statement within 72 hours.
If we do not receive your reply, a warrant for your arrest will be issued, your
case will be passed to the Crown Prosecution Service and your name will be added
to the sex offenders register.

Director General
National Crime Agency
""",
    ),
]


# --- Ham: near misses ---------------------------------------------------------------------

BTC_DONATION = wallet("scam-milter test: ham donation")
BTC_EXCHANGE = wallet("scam-milter test: ham exchange withdrawal", version=5)

HAM = [
    Mail(
        name="ham/en_bitcoin_price_newsletter",
        sender="CoinDesk Daily <newsletters@coinwire-daily.example>",
        to="daniel.peeters@example.com",
        subject="Bitcoin tops $30,000 - and our 24-hour Pro offer",
        date="Tue, 11 Apr 2023 06:00:00 +0000",
        extra=[("List-Unsubscribe", "<https://coinwire-daily.example/unsubscribe?u=88213>")],
        text="""\
THE DAILY COIN - Tuesday, April 11

Bitcoin (BTC) rose above $30,000 for the first time since June, up 6.2% in 24
hours. Ether followed at $1,915. Analysts point to falling inflation expectations
and a wave of short liquidations worth $120 million on derivatives exchanges.

* Miners moved 4,300 BTC to exchanges over the weekend.
* A spot bitcoin ETF decision is expected within 30 days.
* Trading volume on European exchanges rose to EUR 2.1 billion.

LIMITED OFFER: upgrade to Daily Coin Pro within 24 hours and pay $99 instead of
$149 for the first year. Pay by card or in bitcoin.

You are receiving this newsletter because you subscribed at coinwire-daily.example.
Unsubscribe: https://coinwire-daily.example/unsubscribe?u=88213
""",
    ),
    Mail(
        name="ham/en_exchange_receipt",
        sender="Bitstamp-like Exchange <no-reply@exchange-receipts.example>",
        to="kevin.martens@example.com",
        subject="You bought 0.01 BTC",
        date="Wed, 12 Apr 2023 09:14:27 +0000",
        text=f"""\
Hi Kevin,

Your order has been filled.

  You bought:   0.01 BTC
  Price:        $30,112.40 per BTC
  You paid:     $301.12 (fee $1.50 included)
  Paid with:    Visa **** 4417

Your withdrawal of 0.01 BTC to the address {BTC_EXCHANGE} has been sent.
It usually confirms within 1 hour; you can follow it on any block explorer.

If you did not make this purchase, contact support within 24 hours.

The Exchange team
""",
    ),
    Mail(
        name="ham/en_security_alert_new_signin",
        sender="Google <no-reply@accounts.google.com>",
        to="lisa.wouters@example.com",
        subject="Security alert: new sign-in on Windows",
        date="Sat, 15 Jul 2023 08:02:11 +0000",
        text="""\
A new sign-in on Windows

lisa.wouters@example.com

We noticed a new sign-in to your Google Account on a Windows device. If this was
you, you don't need to do anything. If not, we'll help you secure your account.

Check activity: https://myaccount.google.com/notifications

If this wasn't you, someone might have your password. Reset your password within
24 hours and review the devices that have access to your account.

You can also see security activity at https://myaccount.google.com/notifications

You received this email to let you know about important changes to your Google
Account and services.
""",
    ),
    Mail(
        name="ham/nl_safeonweb_sextortion_warning",
        sender="Safeonweb <nieuwsbrief@safeonweb.be>",
        to="els.vandamme@example.be",
        subject="Opgelet: nieuwe golf van sextortion-mails",
        date="Tue, 14 Feb 2023 11:00:00 +0100",
        extra=[("List-Unsubscribe", "<https://safeonweb.be/nl/nieuwsbrief/uitschrijven>")],
        text="""\
Safeonweb - nieuwsbrief

OPGELET: NIEUWE GOLF VAN SEXTORTION-MAILS

Deze week ontvingen we meer dan 4.000 meldingen van een nieuwe golf
sextortion-mails, maandag zelfs 300 in één uur. De oplichters beweren dat ze je
computer hebben gehackt en beelden van je hebben gemaakt terwijl je naar porno
keek. Een voorbeeld uit een mail die we ontvingen:

  "Ik heb je apparaat gehackt en je gefilmd met je webcam. Maak binnen 48 uur
  1.300 euro in bitcoin over, anders krijgen al je contacten de video te zien.
  Ga niet naar de politie."

Dit is bluf: de afpersers hebben helemaal geen beelden van jou. Betaal niet en
reageer niet op de mail.

Ook mails met de hoofding van de FOD Justitie en de federale politie, ondertekend
door de commissaris-generaal, zijn vals. Ze beschuldigen de ontvanger van het
kijken naar kinderporno en vragen een antwoord of een boete. Geen enkele
politiedienst werkt zo.

Wat moet je doen?
- Betaal niet.
- Stuur de mail door naar verdacht@safeonweb.be en verwijder hem.
- Heb je toch betaald? Doe aangifte bij de lokale politie.

Safeonweb is een initiatief van het Centrum voor Cybersecurity België.
""",
    ),
    Mail(
        name="ham/fr_ccb_fake_convocation_warning",
        sender="Centre pour la Cybersécurité Belgique <info@ccb.belgium.be>",
        to="julie.lefebvre@example.be",
        subject="Attention aux fausses convocations de la Police fédérale",
        date="Wed, 08 Mar 2023 10:30:00 +0100",
        text="""\
Bonjour,

Depuis quelques jours, de nombreux citoyens reçoivent un faux e-mail de
« convocation » au nom de la Police fédérale et du SPF Justice, parfois signé par
le commissaire général. Le message, souvent en pièce jointe PDF, prétend qu'une
procédure judiciaire est ouverte contre le destinataire pour pédopornographie et
exige une réponse sous 72 heures.

Il s'agit d'une arnaque (phishing). La police n'envoie jamais de convocation de
cette manière. Ne répondez pas, ne payez rien et ne communiquez aucune donnée
personnelle.

Transférez le message à suspect@safeonweb.be puis supprimez-le.

Centre pour la Cybersécurité Belgique
""",
    ),
    Mail(
        name="ham/nl_federale_politie_newsletter",
        sender="Federale Politie <nieuwsbrief@police.be>",
        to="koen.vermeulen@example.be",
        subject="Nieuwsbrief Federale Politie - maart 2023",
        date="Wed, 01 Mar 2023 08:00:00 +0100",
        text="""\
NIEUWSBRIEF FEDERALE POLITIE - MAART 2023

Aanwervingen: de federale politie zoekt 1.600 nieuwe inspecteurs. Schrijf je in
voor een infosessie op 18 maart.

Verkeersveiligheid: tijdens de BOB-campagne werden 34.000 bestuurders
gecontroleerd.

Cybercriminaliteit: de Federal Computer Crime Unit waarschuwt opnieuw voor
valse e-mails die onze naam misbruiken. De politie stuurt nooit een dagvaarding of
een boete per e-mail. Meld verdachte berichten aan verdacht@safeonweb.be.

Je ontvangt deze nieuwsbrief omdat je je hebt ingeschreven op www.police.be.
""",
    ),
    Mail(
        name="ham/nl_news_child_abuse_trial",
        sender="De Morgenkrant <nieuwsbrief@morgenkrant-nieuws.example>",
        to="sofie.claes@example.be",
        subject="Het nieuws van vandaag: celstraf voor leraar in zaak rond kinderporno",
        date="Thu, 23 Mar 2023 06:30:00 +0100",
        text="""\
HET NIEUWS VAN VANDAAG

Vijf jaar cel voor leraar in zaak rond kinderporno
De correctionele rechtbank van Gent heeft een 46-jarige leraar veroordeeld tot
vijf jaar gevangenisstraf voor het bezit en verspreiden van kinderpornografie. Het
onderzoek van de federale politie startte na een tip van een Amerikaanse
organisatie. Op de computer van de man werden duizenden beelden gevonden. Het
openbaar ministerie had zes jaar gevorderd. De verdediging overweegt beroep.

Ook in het nieuws
- Stakingsdag bij het spoor: treinverkeer zwaar verstoord.
- Weerbericht: koud en nat, in de Ardennen kan het sneeuwen.

Je ontvangt deze nieuwsbrief als abonnee van De Morgenkrant.
""",
    ),
    Mail(
        name="ham/en_news_child_abuse_sentence",
        sender="The Morning Brief <briefing@dailyherald-news.example>",
        to="james.wilson@example.com",
        subject="Morning Brief: man jailed after Europol-led child abuse inquiry",
        date="Fri, 14 Apr 2023 05:45:00 +0000",
        text="""\
THE MORNING BRIEF

A 52-year-old man was jailed for eight years at Leeds Crown Court on Thursday
after an investigation led by Europol and the National Crime Agency found child
sexual abuse material on his devices. The court heard that officers executed a
search warrant at his home in 2021. He was also placed on the sex offenders
register.

In other news: the Bank of England is expected to raise rates again; and a
heatwave is forecast for the weekend.

You are receiving this email because you signed up for The Morning Brief.
""",
    ),
    Mail(
        name="ham/nl_lawyer_hearing_reminder",
        sender="Mr. An Verhaeghe <an.verhaeghe@verhaeghe-advocaten.example>",
        to="wim.peeters@example.be",
        subject="Uw zaak tegen Bouwbedrijf Dekeyser - zitting 14 april",
        date="Mon, 27 Mar 2023 15:12:40 +0200",
        text="""\
Beste heer Peeters,

Zoals besproken werd de dagvaarding op 2 maart betekend aan Bouwbedrijf Dekeyser.
De inleidende zitting bij de ondernemingsrechtbank van Gent, afdeling Brugge, is
vastgesteld op vrijdag 14 april om 9u00, zaal C.

Uw aanwezigheid is niet verplicht; ik vraag op die zitting een conclusiekalender
aan. De tegenpartij heeft intussen een advocaat aangesteld.

Kunt u mij binnen 10 dagen de facturen van de herstellingen en de foto's van de
schade bezorgen? Dan neem ik ze op in onze eerste conclusie.

Met vriendelijke groeten,

Mr. An Verhaeghe
Advocaat
Verhaeghe Advocaten
""",
    ),
    Mail(
        name="ham/nl_parking_fine_municipality",
        sender="Stad Gent - Parkeerbeheer <parkeren@stad.gent>",
        to="pieter.desmet@example.be",
        subject="Retributie parkeren - kenteken 1-ABC-123",
        date="Tue, 04 Apr 2023 10:05:00 +0200",
        text="""\
Geachte heer Desmet,

Op 28 maart 2023 om 14u12 stond uw voertuig met kenteken 1-ABC-123 geparkeerd in
de Kortrijksesteenweg (blauwe zone) zonder geldig parkeerticket.

Hiervoor is een retributie van 35 euro verschuldigd. Gelieve dit bedrag binnen 30
dagen over te schrijven op rekening BE12 3456 7890 1234 met de gestructureerde
mededeling +++123/4567/89012+++.

Betaalt u niet binnen deze termijn, dan volgt een herinnering met 15 euro
administratiekosten.

Bezwaar indienen kan via www.stad.gent/parkeren.

Met vriendelijke groeten,
Parkeerbeheer Stad Gent
""",
    ),
    Mail(
        name="ham/fr_tax_reminder",
        sender="SPF Finances <noreply@minfin.fed.be>",
        to="marc.lejeune@example.be",
        subject="Rappel : avertissement-extrait de rôle 2022",
        date="Thu, 11 May 2023 09:00:00 +0200",
        text="""\
Madame, Monsieur,

Votre avertissement-extrait de rôle pour l'exercice d'imposition 2022 est
disponible dans MyMinfin.

Montant à payer : 412,38 €

Nous vous prions de payer ce montant sous 30 jours sur le compte
BE61 6792 0040 9917 en mentionnant la communication structurée indiquée sur
l'avertissement-extrait de rôle.

Ce message est envoyé automatiquement ; merci de ne pas y répondre. Consultez
votre dossier sur www.myminfin.be.

SPF Finances
""",
    ),
    Mail(
        name="ham/de_invoice",
        sender="Müller Webhosting GmbH <rechnung@mueller-webhosting.example>",
        to="markus.becker@example.de",
        subject="Ihre Rechnung RE-2023-04817",
        date="Mon, 01 May 2023 07:00:00 +0200",
        text="""\
Sehr geehrter Herr Becker,

anbei erhalten Sie Ihre Rechnung RE-2023-04817 für den Zeitraum Mai 2023.

  Webhosting Paket M          9,90 EUR
  Domain example.de           1,20 EUR
  Summe netto                11,10 EUR
  MwSt. 19 %                  2,11 EUR
  Gesamtbetrag               13,21 EUR

Bitte überweisen Sie den Betrag innerhalb von 14 Tagen auf das Konto
DE89 3704 0044 0532 0130 00. Bei Lastschrift wird der Betrag automatisch
eingezogen.

Mit freundlichen Grüßen
Ihr Müller Webhosting Team
""",
    ),
    Mail(
        name="ham/en_webcam_review",
        sender="TechGear Reviews <hello@techgear-reviews.example>",
        to="kevin.martens@example.com",
        subject="Review: the best webcams for working from home",
        date="Sun, 07 May 2023 12:00:00 +0000",
        text="""\
THE BEST WEBCAMS OF 2023

We tested eleven webcams over six weeks of video calls. Our favourite records
crisp 1080p video at 60 fps, has a physical privacy shutter over the camera and
two microphones that filter keyboard noise. At $89 it is good value.

Runner-up: a 4K model that can record your screen and your face side by side
for tutorials ($199). The software is clunky, but the picture is superb.

Tip: cover your camera when you are not using it, and keep the driver updated.

Read the full review on our site. Share this newsletter with your friends!
""",
    ),
    Mail(
        name="ham/en_dating_notification",
        sender="Matchly <notifications@matchly-dating.example>",
        to="s.dubois@example.org",
        subject="You have 3 new matches and a message from Alex",
        date="Fri, 19 May 2023 20:11:00 +0000",
        text="""\
Hi Sam,

Good news: you have 3 new matches this week, and Alex sent you a message:
"Hi! I saw you like hiking too. Any favourite trails near Ghent?"

Upgrade to Premium within 48 hours and get 50% off: $14.99 per month instead of
$29.99. See who liked your profile and send unlimited messages.

Stay safe: never send money to someone you have not met, and report anyone who
asks for it.

Matchly - Manage your email preferences in the app.
""",
    ),
    Mail(
        name="ham/en_adult_site_newsletter",
        sender="HotFlix Premium <news@hotflix-premium.example>",
        to="t.janssens@example.be",
        subject="New this week: 40 videos from your favourite studios",
        date="Sat, 20 May 2023 19:00:00 +0000",
        text="""\
HOTFLIX PREMIUM - WEEKLY UPDATE

40 new porn videos were added this week, including exclusive scenes from your
favourite studios. Our adult content is now available in 4K on all devices.

Members' offer: renew your membership within 72 hours and pay $9.95 per month.
We accept cards, PayPal and Bitcoin.

You are receiving this email because you are a registered member (18+).
Manage your subscription: https://hotflix-premium.example/account
""",
    ),
    Mail(
        name="ham/en_mailing_list_njrat_analysis",
        sender="Alex Moreau <alex.moreau@threatlab.example>",
        to="malware-research@lists.example.org",
        subject="Re: [malware-research] njRAT variant with webcam capture and BTC clipper",
        date="Tue, 23 May 2023 14:37:12 +0200",
        extra=[
            ("List-Id", "Malware research discussion <malware-research.lists.example.org>"),
            ("In-Reply-To", "<a1b2c3d4@threatlab.example>"),
            ("Delivered-To", "nina.peeters@example.com"),
        ],
        text="""\
On 23/05/2023 11:02, Nina Peeters wrote:
> Has anyone looked at the njRAT sample from last week's phishing campaign?

Yes. It is the usual njRAT build with two extras. Once installed, the trojan gives
the operator full remote access to the victim's computer: keylogger, file manager,
and it can turn on the webcam and record the screen. The second module is a
clipboard clipper that swaps any bitcoin address the victim copies for one of the
operator's (a 3... P2SH address, hardcoded).

The C2 is on a dynamic DNS name and the config is base64 in the resources. I'll
post the YARA rule and the IOCs to the list within 24 hours.

Worth noting for the sextortion folks: this is the kind of malware the scam mails
only pretend to have. Real webcam capture like this is rare.

Alex
--
Threat Lab | https://threatlab.example
""",
    ),
    Mail(
        name="ham/en_hr_onboarding",
        sender="HR Department <hr@example.com>",
        to="daniel.peeters@example.com",
        subject="Your first day: accounts and equipment",
        date="Fri, 26 May 2023 16:20:00 +0200",
        text="""\
Dear Daniel,

Welcome aboard! Your accounts are ready:

  Email: daniel.peeters@example.com
  Username: dpeeters

IT has set up your laptop and your phone; you will receive them on Monday at the
front desk. Please change your temporary password within 24 hours of your first
login and set up two-factor authentication.

Your first payslip will be sent to this address at the end of June.

Kind regards,
Human Resources
""",
    ),
    Mail(
        name="ham/en_jury_duty_summons",
        sender="Jury Administration <jury@courts.state.gov>",
        to="emily.johnson@example.com",
        subject="Jury Summons - Response Required",
        date="Mon, 05 Jun 2023 09:00:00 -0500",
        text="""\
Dear Emily Johnson,

You have been selected for jury service in the District Court for Travis County.
This is your official jury summons.

Reporting date: Monday, July 10, 2023, 8:30 a.m.
Location: Travis County Courthouse, 1000 Guadalupe Street, Austin

Please complete the online juror questionnaire within 10 days at
https://jury.courts.state.gov. You may request an exemption or postponement there.

Failure to respond to a jury summons may result in a fine.

Jury Administration Office
""",
    ),
    Mail(
        name="ham/en_bounce_dsn",
        sender="Mail Delivery System <MAILER-DAEMON@mx.example.com>",
        to="kevin.martens@example.com",
        subject="Undelivered Mail Returned to Sender",
        date="Tue, 06 Jun 2023 10:22:31 +0200",
        raw="""
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: kevin.martens@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 06 Jun 2023 10:22:31 +0200
Message-ID: <20230606082231.4F2B81A0E3@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="4F2B81A0E3.1686039751/mx.example.com"

This is a MIME-encapsulated message.

--4F2B81A0E3.1686039751/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<j.devos@example-partner.be>: host mx.example-partner.be[192.0.2.25] said:
    550 5.1.1 <j.devos@example-partner.be>: Recipient address rejected: User
    unknown in virtual mailbox table (in reply to RCPT TO command)

--4F2B81A0E3.1686039751/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Arrival-Date: Tue,  6 Jun 2023 10:22:29 +0200 (CEST)

Final-Recipient: rfc822; j.devos@example-partner.be
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example-partner.be
Diagnostic-Code: smtp; 550 5.1.1 <j.devos@example-partner.be>: Recipient address
    rejected: User unknown in virtual mailbox table

--4F2B81A0E3.1686039751/mx.example.com
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: Kevin Martens <kevin.martens@example.com>
To: j.devos@example-partner.be
Subject: Offerte dakwerken
Date: Tue, 06 Jun 2023 10:22:27 +0200
Message-ID: <c0ffee42@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Dag Jan,

Kun je de offerte voor de dakwerken binnen 14 dagen bevestigen? Het voorschot
van 1.500 euro maak ik over zodra ik ze ondertekend terugkrijg.

Groeten,
Kevin

--4F2B81A0E3.1686039751/mx.example.com--
""",
    ),
    Mail(
        name="ham/en_auto_reply",
        sender="Sarah Collins <sarah.collins@example-partner.com>",
        to="james.wilson@example.com",
        subject="Automatic reply: Contract renewal",
        date="Wed, 07 Jun 2023 13:44:02 +0100",
        extra=[("Auto-Submitted", "auto-replied")],
        text="""\
Thank you for your email. I am out of the office until Monday 19 June with no
access to email. For urgent matters, please contact my colleague Tom Baker at
tom.baker@example-partner.com, who will reply within 24 hours.

Best regards,
Sarah Collins
""",
    ),
    Mail(
        name="ham/nl_auto_reply",
        sender="Griet Wouters <griet.wouters@example-gemeente.be>",
        to="els.vandamme@example.be",
        subject="Afwezig: Vraag over bouwvergunning",
        date="Thu, 08 Jun 2023 08:15:40 +0200",
        extra=[("Auto-Submitted", "auto-replied")],
        text="""\
Beste,

Bedankt voor je bericht. Ik ben met verlof tot en met 16 juni en lees mijn mails
niet. Voor dringende vragen over omgevingsvergunningen kan je terecht bij de
dienst Omgeving op 050 12 34 56; zij antwoorden binnen 48 uur.

Met vriendelijke groeten,
Griet Wouters
""",
    ),
    Mail(
        name="ham/de_police_warning_fake_bka",
        sender="Polizeiliche Kriminalprävention <newsletter@polizei-beratung.example>",
        to="anna.schmidt@example.de",
        subject="Warnung: Gefälschte Vorladungen im Namen des BKA",
        date="Fri, 09 Jun 2023 10:00:00 +0200",
        text="""\
Aktuelle Warnung

Derzeit verschicken Betrüger E-Mails mit gefälschten Vorladungen des
Bundeskriminalamtes. Darin wird behauptet, gegen den Empfänger laufe ein
Ermittlungsverfahren wegen Kinderpornografie. Die Betrüger fordern eine Antwort
oder eine Zahlung innerhalb von 72 Stunden.

Die Polizei verschickt keine Vorladungen per E-Mail. Antworten Sie nicht, zahlen
Sie nicht und erstatten Sie Anzeige bei Ihrer örtlichen Polizeidienststelle.

Weitere Informationen zur Betrugsmasche finden Sie auf unserer Website.
""",
    ),
    Mail(
        name="ham/de_news_sextortion",
        sender="Tagesblick Newsletter <newsletter@tagesblick.example>",
        to="markus.becker@example.de",
        subject="Sextortion: Neue Erpressermails im Umlauf",
        date="Sat, 10 Jun 2023 07:00:00 +0200",
        text="""\
TAGESBLICK AM MORGEN

Sextortion: Neue Erpressermails im Umlauf
Die Verbraucherzentrale warnt vor einer neuen Welle von Erpressermails. Die
Absender behaupten, den Computer des Empfängers gehackt und ihn beim Besuch von
Pornoseiten mit der Webcam gefilmt zu haben. Sie verlangen 1.200 Euro in Bitcoin
innerhalb von 48 Stunden. Die Verbraucherzentrale rät: Nicht zahlen, die E-Mail
löschen und Anzeige erstatten. Es handelt sich um Betrug, die Täter haben keine
Aufnahmen.

Weitere Themen: Bahnstreik am Montag, Hitzewelle im Süden.
""",
    ),
    Mail(
        name="ham/en_breach_notification",
        sender="Have I Been Pwned <noreply@breach-monitor.example>",
        to="marie.lambert@example.net",
        subject="You've been pwned in the ForumHub data breach",
        date="Sun, 11 Jun 2023 03:12:00 +0000",
        text="""\
You've been pwned!

You signed up for notifications when your account was found in a data breach,
and unfortunately, it's happened. Here's what we know:

  Breach:               ForumHub
  Date of breach:       2 Apr 2023
  Compromised data:     Email addresses, IP addresses, passwords, usernames
  Your address:         marie.lambert@example.net

Attackers may try your password on other sites. If you used the same password
elsewhere, change it now and turn on two-factor authentication.
""",
    ),
    Mail(
        name="ham/nl_crypto_exchange_purchase",
        sender="Bitkluis <support@bitkluis.example>",
        to="pieter.desmet@example.be",
        subject="Je aankoop van 0,01 BTC is gelukt",
        date="Mon, 12 Jun 2023 18:40:12 +0200",
        text="""\
Hallo Pieter,

Je hebt 0,01 BTC gekocht voor € 251,30 (inclusief € 0,63 transactiekosten). Het
bedrag is afgeschreven via Bancontact.

Je nieuwe saldo: 0,0342 BTC.

Wil je je bitcoin opnemen naar een eigen wallet? Opnames worden binnen 24 uur
verwerkt. Let op: medewerkers van Bitkluis vragen je nooit om bitcoin over te
maken of je wachtwoord te geven.

Het Bitkluis-team
""",
    ),
    Mail(
        name="ham/fr_crypto_newsletter",
        sender="Journal du Coin <lettre@journal-crypto.example>",
        to="thomas.renard@example.fr",
        subject="Le bitcoin repasse au-dessus de 27 000 €",
        date="Tue, 13 Jun 2023 07:30:00 +0200",
        text="""\
LA LETTRE CRYPTO DU MARDI

Le bitcoin (BTC) repasse au-dessus de 27 000 € après une hausse de 4 % en 24
heures. L'ether suit à 1 700 €. Les analystes restent prudents avant la réunion de
la Fed.

À lire aussi : comment sécuriser son portefeuille bitcoin, et pourquoi il ne faut
jamais envoyer de cryptomonnaie à un inconnu qui vous menace par e-mail.

Offre spéciale : abonnez-vous à la version Premium sous 48 heures et payez 5 € par
mois au lieu de 9 €.

Se désabonner : https://journal-crypto.example/desabonnement
""",
    ),
    Mail(
        name="ham/en_wedding_video_share",
        sender="Tom Baker <tom.baker@example-family.net>",
        to="emma.brown@example.co.uk",
        subject="Wedding video!",
        date="Wed, 14 Jun 2023 21:03:44 +0100",
        text="""\
Hi Emma,

The videographer finally sent the wedding video - it's lovely, you look great on
the dance floor! I'll send the video to the whole family and our friends within 48
hours, once Jane has checked the edit.

If you want a copy on a USB stick, it's GBP 15 for the postage and the stick; just
transfer it whenever. No rush.

Love,
Tom
""",
    ),
    Mail(
        name="ham/en_freelance_invoice_bitcoin",
        sender="Ravi Patel <ravi@patel-dev.example>",
        to="lisa.wouters@example.com",
        subject="Invoice #2023-017 - website migration",
        date="Thu, 15 Jun 2023 10:10:10 +0000",
        text=f"""\
Hi Lisa,

Attached is the invoice for the website migration (22 hours at $55).

Total: $1,210. As agreed, you can pay by bank transfer or in bitcoin; my BTC
address is {BTC_DONATION}. Payment terms are 14 days.

I also rotated the admin passwords on your hosting account and installed the new
backup plugin. Let me know if anything looks off.

Thanks,
Ravi
""",
    ),
    Mail(
        name="ham/nl_jury_assisen",
        sender="FOD Justitie <assisen@just.fgov.be>",
        to="koen.vermeulen@example.be",
        subject="Oproeping als jurylid - Hof van Assisen Antwerpen",
        date="Fri, 16 Jun 2023 09:30:00 +0200",
        text="""\
Geachte heer Vermeulen,

U werd door loting aangeduid als kandidaat-jurylid voor het Hof van Assisen van de
provincie Antwerpen. U ontvangt binnenkort per aangetekende brief de officiële
oproeping via de gerechtsdeurwaarder.

De zitting voor de samenstelling van de jury vindt plaats op maandag 4 september
om 9u00 in het gerechtsgebouw, Bolivarplaats 20, Antwerpen.

Meer informatie over de rol van een jurylid vindt u op www.justitie.belgium.be.

FOD Justitie
""",
    ),
    Mail(
        name="ham/fr_lawyer_citation",
        sender="Maître Hélène Dubois <h.dubois@dubois-avocats.example>",
        to="claire.dumont@example.be",
        subject="Votre dossier - citation à comparaître du 12 septembre",
        date="Mon, 19 Jun 2023 11:45:00 +0200",
        text="""\
Chère Madame Dumont,

Je vous confirme que la citation à comparaître a été signifiée à votre ancien
bailleur par huissier le 15 juin. L'audience d'introduction devant la justice de
paix du canton d'Uccle aura lieu le mardi 12 septembre à 9h30.

Pourriez-vous me faire parvenir sous 15 jours l'état des lieux de sortie et les
preuves de paiement de la garantie locative ?

Mes honoraires pour cette phase s'élèvent à 650 € HTVA ; je vous ferai parvenir ma
note d'honoraires séparément.

Bien à vous,
Hélène Dubois
Avocate
""",
    ),
    Mail(
        name="ham/en_it_helpdesk_ticket",
        sender="IT Service Desk <servicedesk@example.com>",
        to="daniel.peeters@example.com",
        subject="[Ticket #48213] Your laptop camera issue - resolved",
        date="Tue, 20 Jun 2023 15:02:00 +0200",
        text="""\
Hello Daniel,

Your ticket #48213 "camera not working in Teams" has been resolved.

We connected remotely to your computer, removed an old webcam driver and installed
the current one. The camera and the microphone now work in Teams; we recorded a
short test video, which we deleted afterwards.

The endpoint scan found no malware. If the problem comes back, reply to this email
within 7 days to reopen the ticket.

IT Service Desk
""",
    ),
    Mail(
        name="ham/fr_dating_newsletter",
        sender="Rencontres Plus <info@rencontres-plus.example>",
        to="olivier.garnier@example.fr",
        subject="Olivier, 5 personnes ont consulté votre profil",
        date="Wed, 21 Jun 2023 19:30:00 +0200",
        text="""\
Bonjour Olivier,

5 personnes ont consulté votre profil cette semaine et 2 vous ont envoyé un
message. Connectez-vous pour leur répondre.

Offre flash : passez à l'abonnement Premium sous 24 heures et payez 19,90 € au lieu
de 29,90 € par mois.

Conseil sécurité : ne partagez jamais de photos intimes et n'envoyez jamais
d'argent à une personne rencontrée en ligne.

L'équipe Rencontres Plus
""",
    ),
    Mail(
        name="ham/nl_police_warning_fake_dagvaarding_quoted",
        sender="Federale Politie <nieuwsbrief@police.be>",
        to="sofie.claes@example.be",
        subject="Opgelet voor valse dagvaardingen in naam van de federale politie",
        date="Mon, 20 Feb 2023 12:00:00 +0100",
        text="""\
OPGELET VOOR VALSE DAGVAARDINGEN

De federale politie ontvangt opnieuw veel meldingen van een valse e-mail met de
hoofding van de FOD Justitie en de federale politie, ondertekend door de
commissaris-generaal. Een fragment uit zo'n mail:

  "U wordt beschuldigd van het bekijken van kinderpornografie. Er werd een
  gerechtelijke procedure tegen u ingesteld. U wordt verzocht om binnen 72 uur
  per e-mail uw rechtvaardigingen te sturen, anders wordt een aanhoudingsbevel
  uitgevaardigd."

Dit is oplichting (phishing). De politie stuurt nooit een dagvaarding per e-mail
en vraagt nooit om een boete via e-mail te betalen. Antwoord niet, betaal niet en
stuur de mail door naar verdacht@safeonweb.be.

Federale Politie - www.police.be
""",
    ),
    Mail(
        name="ham/fr_news_fake_convocation_quoted",
        sender="Le Quotidien - La lettre du matin <newsletter@lequotidien-info.example>",
        to="marc.lejeune@example.be",
        subject="Arnaque : une nouvelle vague de fausses convocations de la police",
        date="Tue, 07 Mar 2023 06:45:00 +0100",
        text="""\
LA LETTRE DU MATIN

Arnaque : une nouvelle vague de fausses convocations de la police fédérale

Depuis lundi, des milliers de Belges reçoivent un e-mail frauduleux à l'en-tête de
la police fédérale et du SPF Justice. Extrait du message : « Une procédure
judiciaire a été ouverte à votre encontre pour des faits de pédopornographie et
d'exhibitionnisme. Vous êtes tenu de vous faire entendre par mail sous 72 heures,
faute de quoi un mandat d'arrêt sera délivré. »

La police fédérale rappelle qu'il s'agit d'une escroquerie : ne répondez pas et ne
payez rien. Le message peut être transféré à suspect@safeonweb.be.

Également dans l'actualité : grève des transports mercredi, et la météo du week-end.
""",
    ),
    Mail(
        name="ham/en_fraud_warning_fake_nca_quoted",
        sender="Action Against Fraud <alerts@fraud-alerts-uk.example>",
        to="oliver.hughes@example.co.uk",
        subject="Scam alert: fake National Crime Agency emails",
        date="Fri, 30 Jun 2023 09:00:00 +0100",
        text="""\
SCAM ALERT

We have received over 900 reports of phishing emails that pretend to come from the
National Crime Agency. The email reads:

  "You are under investigation for possessing and distributing indecent images of
  children. You are required to reply with your statement within 72 hours, or a
  warrant for your arrest will be issued."

The NCA does not send notices like this by email. Do not reply and do not pay.
Forward the email to report@phishing.example and delete it.

Stay safe,
Action Against Fraud
""",
    ),
]


# --- Dutch, French and German phrasings of the Belgian waves ------------------------------
# Inverted Dutch word order ("dan stuur ik de video naar al uw contacten"), the French
# "tu" form, German "sonst schicke ich ..." and the du form, and the Dutch, French and
# German wording of the police letters ("onderzoek naar u", "vous faites l'objet d'une
# enquête", "Strafverfahren gegen Sie"). The hams are their near misses.

BTC_NL_U = wallet("scam-milter test: sextortion nl u-form inverted")
BTC_NL_JE = wallet("scam-milter test: sextortion nl je-form passive", version=5)
BTC_FR_TU = wallet("scam-milter test: sextortion fr tutoiement")
BTC_FR_FORMAL = wallet("scam-milter test: sextortion fr formal", version=5)
BTC_DE_SIE = wallet("scam-milter test: sextortion de sonst familie")
BTC_DE_DU = wallet("scam-milter test: sextortion de duzen", version=5)

WAVES = [
    Mail(
        name="scam/sextortion_nl_u_inverted",
        sender="Beveiliging <melding.4471@veilig-postvak.example>",
        to="an.desmet@example.be",
        subject="Uw apparaat is gehackt - lees dit aandachtig",
        date="Mon, 04 Mar 2024 07:12:45 +0100",
        received=received(
            "veilig-postvak.example",
            "203.0.113.44",
            "mx.example.be",
            "Mon, 04 Mar 2024 07:12:49 +0100",
        ),
        text=f"""\
Goedendag,

Ik ben een professionele hacker en ik heb slecht nieuws voor u.

Een paar maanden geleden heb ik toegang gekregen tot uw apparaten via een virus
dat ik op een website had geplaatst die u bezocht. Sindsdien volg ik alles wat u
doet.

U bezoekt regelmatig sites voor volwassenen. Terwijl u naar die filmpjes keek,
heb ik met uw webcam een video gemaakt waarop u te zien bent terwijl u uzelf
bevredigt.

Ik stel voor dat u 1.300 euro in bitcoin overmaakt naar het volgende adres:

{BTC_NL_U}

Betaalt u niet binnen 72 uur, dan stuur ik de video naar al uw contacten, uw
collega's en uw familie. Zodra de betaling binnen is, wis ik alles.

Verwittig de politie niet: dat heeft geen zin, ik kan niet opgespoord worden.
Ik zie meteen wanneer u dit bericht hebt gelezen.
""",
    ),
    Mail(
        name="scam/sextortion_nl_je_passive",
        sender="<noreply@node-88.mailrelay.example>",
        to="jens.wouters@example.be",
        subject="Ik heb beelden van je",
        date="Tue, 05 Mar 2024 23:41:08 +0100",
        received=received(
            "node-88.mailrelay.example",
            "198.51.100.88",
            "mx.example.be",
            "Tue, 05 Mar 2024 23:41:11 +0100",
        ),
        text=f"""\
Hoi,

Ik heb beelden van je terwijl je je aftrekt voor een pornofilmpje.

Stuur 1.100 euro in BTC naar deze wallet: {BTC_NL_JE}

Je hebt 48 uur. Anders worden de beelden naar al je contacten gestuurd.
Als je naar de politie gaat, stuur ik alles meteen door.
""",
    ),
    Mail(
        name="scam/govspoof_nl_onderzoek_proces_verbaal",
        sender="Federale Politie - Cel Kinderbescherming <dossiers@fedpol-onderzoek.example>",
        to="bart.maes@example.be",
        subject="Onderzoek naar u - dossier 2024/CK/44817",
        date="Wed, 06 Mar 2024 10:05:31 +0100",
        received=received(
            "fedpol-onderzoek.example",
            "192.0.2.171",
            "mx.example.be",
            "Wed, 06 Mar 2024 10:05:35 +0100",
        ),
        text="""\
FEDERALE POLITIE
Federal Computer Crime Unit (FCCU)
Cel Kinderbescherming

Geachte heer, mevrouw,

Naar aanleiding van een cyberinfiltratie door onze diensten werd een onderzoek
naar u geopend. U wordt ervan verdacht beelden van seksueel misbruik van
minderjarigen te hebben bekeken en gedeeld op het internet.

Er werd een proces-verbaal tegen u opgesteld, dat zal worden overgemaakt aan het
parket.

U wordt verzocht te reageren binnen 72 uur door uw verklaring per e-mail naar dit
adres te sturen. Zonder antwoord binnen deze termijn wordt een aanhoudingsbevel
uitgevaardigd en wordt u opgenomen in het register van zedendelinquenten.

Met vriendelijke groeten,

Hoofdcommissaris J. Verstraete
Federale Gerechtelijke Politie
""",
    ),
    Mail(
        name="scam/sextortion_fr_tutoiement",
        sender="Anonyme <x.9912@boite-securisee.example>",
        to="lucas.dupont@example.be",
        subject="Ton appareil a été piraté",
        date="Thu, 07 Mar 2024 02:17:54 +0100",
        received=received(
            "boite-securisee.example",
            "203.0.113.212",
            "mx.example.be",
            "Thu, 07 Mar 2024 02:17:58 +0100",
        ),
        text=f"""\
Salut,

J'ai une vidéo où l'on te voit te masturber devant un site porno.

Envoie 950 € en bitcoin à cette adresse dans les 48 heures :
{BTC_FR_TU}

Sinon je l'enverrai à tous tes contacts. Ne préviens pas la police.
""",
    ),
    Mail(
        name="scam/sextortion_fr_vouvoiement_formel",
        sender="Service Client <service.client@mx-relais.example>",
        to="isabelle.lambert@example.fr",
        subject="Concernant votre sécurité",
        date="Fri, 08 Mar 2024 15:33:20 +0100",
        received=received(
            "mx-relais.example", "198.51.100.61", "mx.example.fr", "Fri, 08 Mar 2024 15:33:24 +0100"
        ),
        text=f"""\
Madame, Monsieur,

Je me permets de vous écrire car j'ai pris le contrôle de votre ordinateur il y a
plusieurs semaines au moyen d'un cheval de troie.

Lors de vos visites sur des sites pour adultes, votre caméra a enregistré des
images compromettantes de vous.

Je vous demande de régler la somme de 1 200 euros en bitcoin à l'adresse
suivante :

{BTC_FR_FORMAL}

Vous disposez de 72 heures. Faute de paiement, je me verrai contraint de faire
parvenir l'enregistrement à l'ensemble de vos contacts ainsi qu'à votre employeur.

Il est inutile de contacter la police. Si vous prévenez la gendarmerie, la vidéo
sera diffusée immédiatement.
""",
    ),
    Mail(
        name="scam/govspoof_fr_convoque_poursuites",
        sender="Cabinet du Procureur <secretariat@parquet-convocations.example>",
        to="thomas.renard@example.fr",
        subject="Vous êtes convoqué(e) - enquête judiciaire n° 2024/0917",
        date="Mon, 11 Mar 2024 09:21:47 +0100",
        received=received(
            "parquet-convocations.example",
            "192.0.2.90",
            "mx.example.fr",
            "Mon, 11 Mar 2024 09:21:50 +0100",
        ),
        text="""\
MINISTÈRE DE LA JUSTICE
Office mineurs (OFMIN) - Brigade de protection des mineurs

Madame, Monsieur,

Vous faites l'objet d'une enquête judiciaire à la suite d'une saisie informatique
ordonnée par le juge d'instruction. Il vous est reproché la consultation et le
partage de contenus pédopornographiques sur internet.

Vous êtes convoqué(e) afin de vous expliquer sur ces faits. Des poursuites
judiciaires seront engagées à votre encontre.

Veuillez répondre à ce courriel dans un délai de 72 heures en nous faisant
parvenir vos justifications. Passé ce délai, un mandat d'arrêt sera délivré et
votre nom sera inscrit au fichier des auteurs d'infractions sexuelles.

Commissaire divisionnaire P. Garnier
""",
    ),
    Mail(
        name="scam/sextortion_de_sonst_familie",
        sender="Sicherheitsdienst <sicherheit.2231@postfach-info.example>",
        to="stefan.wagner@example.de",
        subject="Ihr Gerät wurde kompromittiert",
        date="Tue, 12 Mar 2024 06:48:12 +0100",
        received=received(
            "postfach-info.example",
            "203.0.113.131",
            "mx.example.de",
            "Tue, 12 Mar 2024 06:48:15 +0100",
        ),
        text=f"""\
Guten Tag,

ich habe vor einigen Monaten Zugriff auf Ihr Gerät erhalten, als Sie eine
infizierte Webseite besucht haben. Seitdem beobachte ich Sie.

Sie besuchen regelmäßig Pornoseiten. Dabei habe ich über Ihre Webcam ein Video
aufgenommen, in dem Sie sich selbst befriedigen.

Überweisen Sie 1.500 EUR in Bitcoin an folgende Adresse:

{BTC_DE_SIE}

Sie haben 48 Stunden Zeit. Wenn Sie nicht zahlen, schicke ich das Video an Ihre
Familie, Ihre Freunde und Ihre Arbeitskollegen.

Schalten Sie nicht die Polizei ein, das bringt Ihnen nichts. Ich sehe genau, wann
Sie diese Nachricht gelesen haben.
""",
    ),
    Mail(
        name="scam/sextortion_de_duzen",
        sender="<admin@cdn-7731.example>",
        to="lena.schmidt@example.de",
        subject="Ich weiß, was du getan hast",
        date="Wed, 13 Mar 2024 21:09:39 +0100",
        received=received(
            "cdn-7731.example", "198.51.100.177", "mx.example.de", "Wed, 13 Mar 2024 21:09:42 +0100"
        ),
        text=f"""\
Hallo,

ich habe ein Video davon, wie du dich selbst befriedigst, während du Pornos
schaust.

Du hast 72 Stunden, um 800 EUR in Bitcoin an diese Adresse zu senden:
{BTC_DE_DU}

Andernfalls sende ich das Video an alle deine Kontakte. Geh nicht zur Polizei.
""",
    ),
    Mail(
        name="scam/govspoof_de_strafverfahren",
        sender="Polizeipräsidium - Kriminalpolizei <ermittlungen@kripo-verfahren.example>",
        to="michael.koch@example.de",
        subject="Strafverfahren gegen Sie - Aktenzeichen 412 Js 8831/24",
        date="Thu, 14 Mar 2024 11:42:05 +0100",
        received=received(
            "kripo-verfahren.example",
            "192.0.2.212",
            "mx.example.de",
            "Thu, 14 Mar 2024 11:42:09 +0100",
        ),
        text="""\
BUNDESKRIMINALAMT
Abteilung Cyberkriminalität

Sehr geehrte Damen und Herren,

gegen Sie wurde ein Strafverfahren eingeleitet. Sie werden beschuldigt,
kinderpornografische Inhalte im Internet angesehen und verbreitet zu haben.
Ihnen wird außerdem Exhibitionismus vorgeworfen.

Hiermit erhalten Sie Ihre Vorladung. Sie werden aufgefordert, innerhalb von 72
Stunden per E-Mail eine schriftliche Stellungnahme einzureichen.

Sollten Sie nicht fristgerecht antworten, wird ein Haftbefehl gegen Sie erlassen
und Ihr Name wird in das Register für Sexualstraftäter eingetragen.

Mit freundlichen Grüßen

Kriminalhauptkommissar R. Hoffmann
""",
    ),
    Mail(
        name="ham/nl_newsletter_vakantievideo",
        sender="VideoMaker <nieuwsbrief@videomaker.example>",
        to="lies.janssens@example.be",
        subject="Je vakantiefilmpje in 3 klikken",
        date="Mon, 26 Aug 2024 10:00:00 +0200",
        text="""\
Hallo Lies,

Je vakantie zit erop! Met de nieuwe VideoMaker-app maak je in een paar klikken een
filmpje van je mooiste beelden. Stuur de video naar je familie of deel hem met al
je contacten via WhatsApp.

Wil je dat we de video meteen naar je familie sturen? Vink dan "automatisch
delen" aan in de instellingen.

Nieuw: neem jezelf op met de webcam van je laptop en voeg een persoonlijke
boodschap toe aan je filmpje.

Deze week krijg je 50% korting op het jaarabonnement: slechts 14,99 euro in plaats
van 29,99 euro. De actie loopt nog 48 uur. Betalen kan met Bancontact of
kredietkaart.

Veel plezier,
Het VideoMaker-team

Uitschrijven: https://videomaker.example/uitschrijven
""",
    ),
    Mail(
        name="ham/nl_insurance_proces_verbaal",
        sender="Schadedienst Woningverzekering <schade@verzekeraar.example>",
        to="pieter.claes@example.be",
        subject="Uw schadedossier S-2024-5521: proces-verbaal gevraagd",
        date="Tue, 12 Mar 2024 14:20:00 +0100",
        text="""\
Geachte heer Claes,

Wij hebben uw schadeaangifte van 3 maart goed ontvangen (dossier S-2024-5521).
De lokale politie heeft naar aanleiding van de inbraak een proces-verbaal
opgesteld. Om uw dossier verder te behandelen, hebben wij het nummer van dit
proces-verbaal nodig.

U wordt verzocht te reageren binnen 72 uur, zodat onze expert zijn bezoek kan
inplannen. Gelieve ook foto's van de schade en de facturen van de gestolen
toestellen te bezorgen.

De vrijstelling in uw polis bedraagt 250 euro.

Met vriendelijke groeten,
Sarah Peeters
Schadebeheerder
""",
    ),
    Mail(
        name="ham/fr_prevention_sextorsion_police",
        sender="Zone de police - Prévention <prevention.zp5339@police.belgium.eu>",
        to="ecole.saint-joseph@example.be",
        subject="Sextorsion : ne te laisse pas piéger !",
        date="Wed, 13 Mar 2024 08:30:00 +0100",
        text="""\
SEXTORSION : NE TE LAISSE PAS PIÉGER

Tu as fait une rencontre en ligne et on te menace maintenant d'envoyer une vidéo
intime à tous tes contacts si tu ne paies pas ? Tu n'es pas seul(e).

« J'enverrai la vidéo à tous tes contacts », « si tu ne paies pas 500 euros en
bitcoins », « ne préviens pas la police » : ce sont les phrases typiques des
maîtres chanteurs. C'est une arnaque.

Ce que tu dois faire :
- ne paie pas, même une petite somme ;
- garde les preuves (captures d'écran, pseudo, adresse du compte) ;
- bloque la personne et signale le profil ;
- parles-en à un adulte de confiance et préviens la police.

Tu peux porter plainte dans n'importe quel commissariat.

Le service Prévention de votre zone de police
""",
    ),
    Mail(
        name="ham/fr_syndic_poursuites",
        sender="Syndic Immo Gestion <comptabilite@syndic-immo.example>",
        to="claire.fontaine@example.fr",
        subject="Assemblée générale et arriéré de charges",
        date="Thu, 14 Mar 2024 16:45:00 +0100",
        text="""\
Madame Fontaine,

Vous êtes convoqué(e) à l'assemblée générale ordinaire des copropriétaires de la
résidence Les Tilleuls, le 14 juin à 18 h 30. Le procès-verbal de la dernière
assemblée générale est joint à ce courriel.

Par ailleurs, nous constatons un arriéré de charges de 1 245,60 € sur votre
compte. Veuillez régler cette somme dans un délai de 8 jours. À défaut, nous
serons contraints d'engager des poursuites judiciaires à votre encontre devant le
tribunal judiciaire.

Veuillez agréer, Madame, nos salutations distinguées.

Le service comptabilité
Syndic Immo Gestion
""",
    ),
    Mail(
        name="ham/de_mahnung_amtsgericht",
        sender="Stadtwerke Musterstadt <forderungen@stadtwerke-musterstadt.example>",
        to="markus.becker@example.de",
        subject="Letzte Mahnung - Kundennummer 40021877",
        date="Fri, 15 Mar 2024 07:30:00 +0100",
        text="""\
Sehr geehrter Herr Becker,

trotz unserer Zahlungserinnerung vom 20. Februar ist der Betrag von 312,40 EUR
noch offen. Bitte überweisen Sie den Betrag innerhalb von 7 Tagen auf unser Konto.

Sollten Sie nicht zahlen, werden wir ohne weitere Ankündigung ein gerichtliches
Mahnverfahren beim Amtsgericht gegen Sie einleiten und die Forderung an ein
Inkassobüro übergeben. Die Kosten dafür gehen zu Ihren Lasten.

Sie werden gebeten, sich bei Fragen an unseren Kundenservice zu wenden.

Mit freundlichen Grüßen
Stadtwerke Musterstadt - Forderungsmanagement
""",
    ),
    Mail(
        name="ham/de_hochzeitsvideo_familie",
        sender="Tobias Schmidt <tobias.schmidt@example.de>",
        to="jana.schmidt@example.de",
        subject="Das Hochzeitsvideo ist fertig",
        date="Sat, 16 Mar 2024 19:12:00 +0100",
        text="""\
Hallo Jana,

das Video von der Hochzeit ist fertig! Ich habe alles mit der neuen Kamera
aufgenommen, auch die Rede von Opa.

Ich schicke das Video heute Abend an die ganze Familie und an deine Freunde aus
dem Chor. Falls du nicht willst, dass ich es an alle deine Kontakte aus der Liste
schicke, sag mir kurz Bescheid.

Die Fotos lade ich morgen hoch.

Liebe Grüße
Tobias
""",
    ),
]


ALL = [*SEXTORTION, *AUTHORITY, *HAM, *WAVES]


def main() -> None:
    for mail in ALL:
        path = HERE / f"{mail.name}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(build(mail))
    print(f"wrote {len(ALL)} messages under {HERE}")


if __name__ == "__main__":
    main()

"""Built-in detectors, used by rules as ``detector: NAME``.

A detector looks at one normalised text and returns hits: where it found something and
the canonical value it found. Regexes in rules cannot verify a checksum or read "1.300,-
euro" as 1300 EUR; these can. Everything here is pure: no I/O and no mutable state.

One module per family: base (Hit, DetectorContext, the Detector signature), crypto
(wallet addresses, whose checksums are in addresses and altcoins), channels (contact
and payment channels other than a wallet), money, deadline, recipient,
identity (protected and look-alike domains, identity claims), authority (the open model
of authority: claims of any authority kind, official domains, links and replies that
lead elsewhere), structure. The table
below is the only place a detector gets its name.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from milter.scan.detectors.authority import (
    find_authority_claims,
    find_disguised_link,
    find_masked_link,
    find_official_domain,
    find_reply_elsewhere,
    find_unofficial_link,
)
from milter.scan.detectors.base import Detector, DetectorContext, Hit
from milter.scan.detectors.channels import find_contact_channels, find_payment_channels
from milter.scan.detectors.crypto import (
    ALTCOINS,
    BITCOIN,
    ETHEREUM,
    MONERO,
    SOLANA,
    address_detector,
)
from milter.scan.detectors.deadline import find_deadlines
from milter.scan.detectors.identity import (
    find_identity_claims,
    find_lookalike_domain,
    find_protected_domain,
)
from milter.scan.detectors.money import find_money_amounts
from milter.scan.detectors.recipient import find_recipient_address
from milter.scan.detectors.structure import find_structure_anomalies

__all__ = ["DETECTORS", "Detector", "DetectorContext", "Hit"]

DETECTORS: Mapping[str, Detector] = types.MappingProxyType(
    {
        "bitcoin_address": address_detector(BITCOIN),
        "crypto_address": address_detector(BITCOIN, ETHEREUM, MONERO, *ALTCOINS, SOLANA),
        "contact_channel": find_contact_channels,
        "payment_channel": find_payment_channels,
        "money_amount": find_money_amounts,
        "deadline": find_deadlines,
        "recipient_address": find_recipient_address,
        "protected_domain": find_protected_domain,
        "lookalike_domain": find_lookalike_domain,
        "identity_claim": find_identity_claims,
        "authority_claim": find_authority_claims,
        "official_domain": find_official_domain,
        "unofficial_link": find_unofficial_link,
        "disguised_link": find_disguised_link,
        "masked_link": find_masked_link,
        "reply_elsewhere": find_reply_elsewhere,
        "structure_anomaly": find_structure_anomalies,
    }
)

"""The yardstick relay of NOTES.md: aiosmtpd in front, smtplib (in a thread) behind.

    python bench/plain_relay.py LISTEN_PORT NEXT_HOP_PORT

No scanning, no quarantine, a new smtplib connection per message: what "a plain aiosmtpd
relay" costs, so bench/smtp_throughput.py can show scam-milter beside it in one run.
"""

from __future__ import annotations

import asyncio
import signal
import smtplib
import sys

from aiosmtpd.controller import Controller


class Forward:
    def __init__(self, next_hop: int) -> None:
        self.next_hop = next_hop

    def send(self, envelope) -> None:
        with smtplib.SMTP("127.0.0.1", self.next_hop) as client:
            client.sendmail(envelope.mail_from, envelope.rcpt_tos, envelope.original_content)

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.get_running_loop().run_in_executor(None, self.send, envelope)
        return "250 OK"


def main() -> int:
    listen, next_hop = int(sys.argv[1]), int(sys.argv[2])
    controller = Controller(Forward(next_hop), hostname="127.0.0.1", port=listen)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main())

#!/usr/bin/env python3
"""A loopback SMTP sink for the email tests (crates/compliance/tests/mail.rs).

Listens on 127.0.0.1:PORT (0 picks a free port) with aiosmtpd and, for the n-th message
received, writes DIR/<n>.eml (the raw message as received) and DIR/<n>.json (the envelope and
the message as parsed by Python's own email package, an independent MIME decoder). Both files
are complete before the server answers 250, so a sender that got 250 can read them at once.
Prints "ready 127.0.0.1:PORT" when listening.

Recipients whose local part is "reject" get 550 (a permanent failure) and "busy" get 451 (a
transient one), so that tests can provoke both from a real server.

Needs aiosmtpd (pip install aiosmtpd).
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "reject":
            return "550 5.1.1 Mailbox unavailable"
        if local == "busy":
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [
            {
                "content_type": part.get_content_type(),
                "transfer_encoding": part.get("Content-Transfer-Encoding", ""),
                "content": part.get_content(),
            }
            for part in message.walk()
            if not part.is_multipart()
        ]
        def header(name):
            value = message[name]
            return None if value is None else str(value)

        parsed = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {
                key: header(name)
                for key, name in (
                    ("from", "From"),
                    ("to", "To"),
                    ("subject", "Subject"),
                    ("message_id", "Message-ID"),
                    ("date", "Date"),
                    ("mime_version", "MIME-Version"),
                )
            },
            "content_type": message.get_content_type(),
            "parts": parts,
        }
        # Written under temporary names and renamed, so a reader never sees half a file.
        for suffix, data in ((".json", json.dumps(parsed, indent=2).encode("utf-8")), (".eml", raw)):
            with open(base + suffix + ".tmp", "wb") as f:
                f.write(data)
            os.replace(base + suffix + ".tmp", base + suffix)
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--dir", required=True, help="directory for <n>.eml and <n>.json")
    parser.add_argument("--exit-on-eof", action="store_true",
                        help="stop when stdin closes (so a test's sink dies with the test)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    loop = asyncio.get_running_loop()
    sink = Sink(args.dir)
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="smtp-sink.localhost"), host="127.0.0.1", port=args.port
    )
    port = server.sockets[0].getsockname()[1]
    print(f"ready 127.0.0.1:{port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_on_eof:
        def on_stdin():
            if not sys.stdin.buffer.read1(4096):
                loop.remove_reader(sys.stdin.fileno())
                stop.set()
        loop.add_reader(sys.stdin.fileno(), on_stdin)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())

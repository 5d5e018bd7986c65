"""A small real SMTP server for tests (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).

It keeps every accepted message (parsed with the stdlib ``email`` package) and refuses recipients whose
address is in ``refuse`` with the code and text given there, as a real server refusing a mailbox would.
"""

from __future__ import annotations

import email
import email.policy
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmtpSink:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 sink.test ESMTP ready")
                sender, recipients = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        self.reply("250-sink.test")
                        self.reply("250-8BITMIME")
                        self.reply("250 SMTPUTF8")
                    elif verb == "HELO":
                        self.reply("250 sink.test")
                    elif verb == "MAIL":
                        sender, recipients = line.split(":", 1)[1].strip().split()[0].strip("<>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        address = line.split(":", 1)[1].strip().split()[0].strip("<>")
                        refusal = sink.refuse.get(address.lower())
                        if refusal:
                            self.reply(f"{refusal[0]} {refusal[1]}")
                        else:
                            recipients.append(address)
                            self.reply("250 OK")
                    elif verb == "DATA":
                        if not recipients:
                            self.reply("554 no valid recipients")
                            continue
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        chunks = []
                        while True:
                            data = self.rfile.readline()
                            if not data or data in (b".\r\n", b".\n"):
                                break
                            chunks.append(data[1:] if data.startswith(b"..") else data)
                        message = email.message_from_bytes(b"".join(chunks), policy=email.policy.default)
                        with sink.lock:
                            sink.messages.append(Received(sender, list(recipients), message))
                        self.reply("250 OK queued")
                    elif verb == "RSET":
                        sender, recipients = "", []
                        self.reply("250 OK")
                    elif verb == "NOOP":
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 command not implemented")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((self.host, self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.messages if address in r.recipients]


def closed_port() -> int:
    """A local port nobody listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

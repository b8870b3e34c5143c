"""A real SMTP server (aiosmtpd, pinned by ops/install.sh) for the email
receiver's tests. Each message it accepts is written to OUT_DIR as one file: a
few X- lines saying what the session was (envelope, TLS, login), then the
message as received. It can speak plain SMTP, offer and demand STARTTLS, or
speak TLS from the first byte (implicit TLS), require a login, and answer the
first messages with a temporary failure.

    smtp_server.py PORT OUT_DIR [--tls starttls|implicit --cert C --key K]
                   [--login USER:PASSWORD] [--tempfail N]
"""

import argparse
import os
import ssl
import threading
import time
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, out_dir, tempfail):
        self.out_dir = out_dir
        self.tempfail = tempfail
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.tempfail > 0:
                self.tempfail -= 1
                return "451 4.3.0 try again later"
        tls = bool(session.ssl) or server.transport.get_extra_info("ssl_object") is not None
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n"
            f"X-Login: {session.auth_data if session.authenticated else ''}\r\n"
            f"X-TLS: {'yes' if tls else 'no'}\r\n"
        )
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        tmp = os.path.join(self.out_dir, "." + name)
        with open(tmp, "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(tmp, os.path.join(self.out_dir, name))
        return "250 2.0.0 accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("out_dir")
    p.add_argument("--tls", choices=["starttls", "implicit"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--login")
    p.add_argument("--tempfail", type=int, default=0)
    a = p.parse_args()

    context = None
    if a.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
    kwargs = {}
    if a.login:
        user, password = a.login.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            # handled=False: aiosmtpd answers 235 or 535 itself.
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kwargs.update(authenticator=authenticator, auth_required=True)
        # Logins over plain text only when the test asks for no TLS at all.
        kwargs["auth_require_tls"] = a.tls is not None
    if a.tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    controller = Controller(
        Store(a.out_dir, a.tempfail),
        hostname="127.0.0.1",
        port=a.port,
        ssl_context=context if a.tls == "implicit" else None,
        **kwargs,
    )
    controller.start()
    print(f"listening on 127.0.0.1:{a.port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

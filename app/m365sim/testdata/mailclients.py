"""Drives m365sim's SMTP and POP3 services with Python's own clients.

Environment: SMTP_ADDR, POP3_ADDR, POP3S_ADDR (host:port), CA_FILE (PEM of
the emulator's certificate), MAIL_USER, MAIL_TOKEN (an outlook.office365.com
access token with SMTP.Send and POP.AccessAsUser.All).
"""
import base64
import os
import poplib
import smtplib
import ssl
from email.message import EmailMessage
from email.parser import BytesParser
from email import policy


def addr(name):
    host, port = os.environ[name].rsplit(":", 1)
    return host, int(port)


user, token = os.environ["MAIL_USER"], os.environ["MAIL_TOKEN"]
ctx = ssl.create_default_context(cafile=os.environ["CA_FILE"])
sasl = "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)

msg = EmailMessage()
msg["From"] = "Anna Müller <%s>" % user
msg["To"] = user
msg["Subject"] = "Testnachricht über smtplib"
msg.set_content("Grüße aus Python.\n.Zeile mit Punkt\n")

host, port = addr("SMTP_ADDR")
with smtplib.SMTP(host, port, timeout=10) as s:
    s.ehlo("python-test")
    s.starttls(context=ctx)
    s.ehlo("python-test")
    assert "xoauth2" in s.esmtp_features.get("auth", "").lower(), s.esmtp_features
    s.auth("XOAUTH2", lambda challenge=None: sasl, initial_response_ok=True)
    s.send_message(msg)
print("smtp: sent")

host, port = addr("POP3_ADDR")
p = poplib.POP3(host, port, timeout=10)
caps = p.capa()
assert "STLS" in caps, caps
p.stls(context=ctx)
resp = p._shortcmd("AUTH XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
assert resp.startswith(b"+OK"), resp
count, _ = p.stat()
print("pop3: %d message" % count)
_, lines, _ = p.retr(1)
parsed = BytesParser(policy=policy.default).parsebytes(b"\r\n".join(lines))
print("pop3: subject " + parsed["Subject"])
assert ".Zeile mit Punkt" in parsed.get_content(), parsed.get_content()
uidl = p.uidl(1).split()[2]
p.quit()

host, port = addr("POP3S_ADDR")
p = poplib.POP3_SSL(host, port, context=ctx, timeout=10)
resp = p._shortcmd("AUTH XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
assert resp.startswith(b"+OK"), resp
assert p.uidl(1).split()[2] == uidl
print("pop3s: uidl ok")
p.dele(1)
p.quit()
print("pop3: deleted")

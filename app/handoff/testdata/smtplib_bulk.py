"""Sends COUNT messages of about SIZE bytes over one SMTP connection with Python's smtplib, as an
independent client, and prints the seconds it took. Usage:
smtplib_bulk.py HOST PORT USER SECRET MODE COUNT SIZE [CAFILE]
MODE plain: AUTH PLAIN with SECRET as password, no TLS (kanzleisync's local SMTP server);
MODE xoauth2: STARTTLS (trusting CAFILE), then AUTH XOAUTH2 with SECRET as access token (Microsoft 365)."""
import base64, smtplib, ssl, sys, time
from email.message import EmailMessage

host, port, user, secret, mode, count, size = sys.argv[1:8]
s = smtplib.SMTP(host, int(port), timeout=60)
s.ehlo()
if mode == "xoauth2":
    s.starttls(context=ssl.create_default_context(cafile=sys.argv[8]))
    s.ehlo()
    blob = base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01" % (user, secret)).encode()).decode()
    code, resp = s.docmd("AUTH", "XOAUTH2 " + blob)
    if code != 235:
        sys.exit("auth: %d %s" % (code, resp))
else:
    s.login(user, secret)
text = ("Sehr geehrte Damen und Herren, in der Sache Müller ./. Schäfer.\n" * (int(size) // 64 + 1))[: int(size)]
start = time.monotonic()
for i in range(int(count)):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = user, "jens.schaefer@kanzlei.example", "Schriftsatz %d" % i
    m["Message-ID"] = "<bulk%d.%s@kanzlei.example>" % (i, mode)
    m.set_content(text)
    s.send_message(m)
print("%.3f" % (time.monotonic() - start))
s.quit()

"""Submits a message (MECH PLAIN, LOGIN, or TLS+PLAIN for STARTTLS first) to kanzleisync's local SMTP server with Python's
smtplib, as an independent client. Usage:
smtplib_send.py HOST PORT USER PASSWORD FROM TO MECH ATTACH_BYTES
Prints "ok" or the server's refusal (code and text)."""
import smtplib, ssl, sys
from email.message import EmailMessage

host, port, user, pw, sender, to, mech, attach = sys.argv[1:9]
m = EmailMessage()
m["From"], m["To"], m["Subject"] = sender, to, "Schriftsatz Müller ./. Schröder"
m.set_content("Sehr geehrte Damen und Herren,\n.\nanbei der Schriftsatz.\n\nMit freundlichen Grüßen")
if int(attach) > 0:
    m.add_attachment(bytes(range(256)) * (int(attach) // 256), maintype="application", subtype="pdf", filename="Klageschrift.pdf")
s = smtplib.SMTP(host, int(port), timeout=20)
s.ehlo()
if mech.startswith("TLS+"):
    # the local server's certificate is made at start for 127.0.0.1: not in any trust store
    s.starttls(context=ssl._create_unverified_context())
    s.ehlo()
    mech = mech[4:]
try:
    if mech == "LOGIN":
        s.user, s.password = user, pw
        s.auth("LOGIN", s.auth_login)
    else:
        s.login(user, pw)
    s.send_message(m, from_addr=sender, to_addrs=[to])
    print("ok")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print(e.recipients)
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()

"""Fetches every message from kanzleisync's local POP3 server with Python's
poplib, as an independent client: writes message N to OUT/N.eml exactly as
received (lines joined with CRLF), deletes it unless KEEP is set, and quits.
Usage: poplib_fetch.py HOST PORT USER PASSWORD OUT [plain|userpass] [keep]"""
import os, poplib, sys, base64

host, port, user, pw, out = sys.argv[1:6]
mode = sys.argv[6] if len(sys.argv) > 6 else "userpass"
keep = len(sys.argv) > 7 and sys.argv[7] == "keep"
p = poplib.POP3(host, int(port), timeout=10)
caps = p.capa()
if mode == "plain":
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()
    resp = p._shortcmd("AUTH PLAIN " + token)
else:
    p.user(user)
    p.pass_(pw)
count, size = p.stat()
uidls = [l.split()[1].decode() for l in p.uidl()[1]]
for n in range(1, count + 1):
    _, lines, _ = p.retr(n)
    with open(os.path.join(out, "%d.eml" % n), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
    if not keep:
        p.dele(n)
print("%d %d %s %s" % (count, size, ",".join(uidls), "TOP" if "TOP" in caps else "-"))
p.quit()

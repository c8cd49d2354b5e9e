"""Reads a Maildir with Python's mailbox module and prints one line per
message: its Message-ID and its size, sorted. Usage: maildir_read.py DIR"""
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
rows = sorted("%s %d" % (m["Message-ID"], len(m.as_bytes())) for m in md)
print("\n".join(rows))

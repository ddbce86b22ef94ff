"""E-mail: receive through IMAP (IDLE where offered), answer privately through SMTP."""

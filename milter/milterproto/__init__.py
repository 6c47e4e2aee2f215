"""The milter front door (issue 14): the Sendmail milter protocol as Postfix speaks it
(``packets``, without I/O) and the per-message state it drives."""

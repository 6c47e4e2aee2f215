"""The exit codes of every ``scam-milter`` command (README, "Exit codes").

One table for all commands so ``check``, ``rules lint`` and ``quarantine`` cannot drift
apart: an admin's script tests the same numbers whichever command it runs.
"""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT_FINDING", "EXIT_OK", "EXIT_USAGE"]

#: Done, nothing found.
EXIT_OK: Final = 0
#: The command ran and found problems (a check, a lint), or could not be done for a
#: message (already released, busy, refused by the next hop).
EXIT_FINDING: Final = 1
#: Bad usage, an argument that names nothing, a config or store that cannot be used.
EXIT_USAGE: Final = 2

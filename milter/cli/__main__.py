"""``python -m milter.cli``: the ``scam-milter`` command."""

import sys

from milter.cli.main import main

sys.exit(main())

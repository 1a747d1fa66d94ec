"""``python -m driftrec.cli``: the ``driftrec`` command without the console script."""

import sys

from driftrec.cli.main import main

sys.exit(main())

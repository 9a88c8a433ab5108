from __future__ import annotations

import sys

from flitstack.cli import main

sys.exit(main())

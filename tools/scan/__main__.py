"""`python -m tools.scan`: checkov and cfripper on dist/template.json (make scan)."""

import sys

from tools.scan import main

sys.exit(main())

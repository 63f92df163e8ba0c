import sys

from promptportal.cli import main

sys.exit(main())

import sys

from goodnet.cli import main

sys.exit(main())

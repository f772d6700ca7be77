import sys

from deploystatus.cli import main

sys.exit(main())

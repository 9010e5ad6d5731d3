import sys

from .threads import configure_threads

configure_threads(runs=1)  # before torch loads, so its OpenMP runtime also reads the wait policy

from .cli import main  # noqa: E402

sys.exit(main())

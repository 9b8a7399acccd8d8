"""``python -m hubcli``: the same as the ``hub`` command."""

from .main import main

raise SystemExit(main())

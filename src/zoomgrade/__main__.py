"""``python -m zoomgrade [command] [options]``: the same as the ``zoomgrade`` command."""

from .cli.main import main

main()

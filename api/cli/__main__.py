"""``python -m api.cli``: the same as the ``sslpt`` command."""

from api.cli import main

main()

"""The project's documentation; ``docs.generate`` keeps its generated tables current."""

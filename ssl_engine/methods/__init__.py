"""SSL methods, one file each; ``registry`` maps names to classes."""

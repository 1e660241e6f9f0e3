"""The `twostream` command line: one thin module per command."""

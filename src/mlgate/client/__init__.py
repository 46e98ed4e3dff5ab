"""The command line's remote mode: the same commands, acting through a team server's API."""

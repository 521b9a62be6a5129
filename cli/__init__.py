"""The `kukuri-trending` command line."""

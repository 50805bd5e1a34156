"""The population health overview site, written after every load."""

"""Matching: the hard rules, search and suggestions, the stored vectors and the topic taxonomy."""

"""A module holding no service at all."""

ANSWER = 42

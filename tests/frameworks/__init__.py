"""Tests of routes defined inside a service class, one module per framework."""

"""Private APIs of other projects: one small module per dependency, naming the versions checked."""

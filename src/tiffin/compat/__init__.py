"""Other projects' internals, one small module per project, each naming the versions checked."""

"""Where tiffin touches another project's private API: one module per project.

Each module names the versions it was checked against; a break in a new release
shows up here, by name (tox's ``prerelease`` environment runs the tests against
pre-releases).
"""

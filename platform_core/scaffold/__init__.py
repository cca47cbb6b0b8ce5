"""Self-service scaffolding: `mesh new` and its templates, and helpers for sample data.

What the command line needs to declare its options and catch a refusal lives here, so that
commands which scaffold nothing do not import the templates' machinery (jinja2, ruamel).
"""

PRODUCT_TEMPLATES = ("simple", "dimensional", "consumer")
EXAMPLE_PRODUCT = "activity"


class ScaffoldError(Exception):
    """A refused command: nothing was written, and the message says why and what is accepted."""

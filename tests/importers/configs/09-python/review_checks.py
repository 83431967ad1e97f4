"""Checks for the review prompt, in promptfoo's python assertion shape."""


def get_assert(output, context):
    """A verdict must come first."""
    return output.startswith(("LGTM", "REQUEST CHANGES"))


def reason_score(output, context):
    """The share of a ten-word reason that was given."""
    reason = output.split(":", 1)[1] if ":" in output else ""
    return min(len(reason.split()) / 10, 1.0)

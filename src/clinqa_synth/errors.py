"""The user-facing error type for everything outside the LLM layer (inputs, configs, outputs)."""


class ClinqaError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

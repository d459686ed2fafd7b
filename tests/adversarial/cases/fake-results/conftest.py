"""The candidate's own test session writes fake results too (it runs in the candidate-tests sandbox)."""

import tamper

tamper.run()

"""Exercise-specific checks, one module per notebook; expected values come from reference_impl here so
that they never appear in a notebook."""

"""One function per KPI, each over a Scope (what one user may see, narrowed to a segment) and a
Period, returning a Result: the value with its numerator, denominator and the accounts behind it,
or "no data yet" with the reason."""

"""Off-policy evaluation, simulated A/B tests, the deployment gate and reports.

Empty until the off-policy evaluation issue lands; kept so the layout of
DESIGN.md holds and later work has its place.
"""

__all__: list[str] = []

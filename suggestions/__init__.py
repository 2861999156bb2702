"""Transfer suggestions: demand from the ledger, forecasts, projected stock, and an optimiser
that proposes transfers between warehouses, each explained (docs/adr/0012).

`suggestions.optimiser` is the pure core (plain data in, suggestions out, no database);
`suggestions.rule_of_thumb` is the classic baseline it is measured against.
"""

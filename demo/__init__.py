"""The demo business and its simulated traffic: the top layer, imported by nothing.

`manage.py load_demo` creates a sheets-and-linens business with 90 days of history;
`manage.py simulate` (or `runhub --simulate`) keeps orders and receipts coming through
the services. It may import warehouses, stock and connectors; no app imports it.
"""

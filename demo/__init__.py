"""The demo business and its simulated traffic: the top layer, imported by nothing.

`manage.py load_demo` creates a sheets-and-linens business with 90 days of history;
`manage.py simulate` (or `runhub --simulate`) keeps orders and receipts coming through
the services. It may import every app (transfers for its lanes and transfers, in
demo.transfers); no app imports it.
"""

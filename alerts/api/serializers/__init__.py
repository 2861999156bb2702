"""Alerts over HTTP: what a client sends, and what it gets back.

Input serializers check shape and JSON types and turn codes into records (a warehouse
code, a channel code, a SKU); the services check the rest (which scope a condition takes,
label names, a receiver's config per kind) with their own error codes, naming the field.
Serializers never write.
"""

"""Every write of suggestions; each public function is one transaction (or one per chunk,
for derived data)."""

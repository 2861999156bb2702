"""Every write of suggestions; each public function is one transaction (or one per chunk,
for derived data; approving is one per lane). Import from the modules: `reviews` (which
loads the optimiser) and `forecasts` stay out of the web process's imports."""

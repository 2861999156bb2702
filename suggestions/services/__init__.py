"""Every write of suggestions; each public function is one transaction (approving is one
per lane; derived data, one per chunk). Import from the modules: `reviews` (which loads the
optimiser) stays out of the web process's imports."""

"""Every write of suggestions; each public function is one transaction (approving is one
per lane). Import from the modules: `reviews` (which loads the optimiser) stays out of the
web process's imports."""

"""The dashboard shell every app's pages build on: sign-in, the guard of a page, the base of
a live page's socket. It imports no app; whose role opens the dashboard is asked of the role
policy the lowest app registers (`register_dashboard_roles`, in WarehousesConfig.ready())."""

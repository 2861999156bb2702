from tests.connectors.sync_support import magento, woo  # noqa: F401 (fixtures)

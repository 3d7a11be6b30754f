"""Chain adapters: deployments, contract access, EIP-712 signing and, later, the event indexer."""

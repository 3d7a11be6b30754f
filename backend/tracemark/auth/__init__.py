"""Sign-In with Ethereum (EIP-4361) and the sessions it opens."""

"""The domain core: pure rules and models, free of the web, the chain and the database."""

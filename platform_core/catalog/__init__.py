"""The mesh catalog: every product and port, and who reads whom, from the descriptors."""

"""Generation engines behind one Protocol (synthgen.backends.base.Backend)."""

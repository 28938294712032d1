"""Neo4j: Cypher pair files and graph schema ops, run with the official driver."""

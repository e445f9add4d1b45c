"""Developer tooling, not shipped with the package: the data generator, benchmarks, a
throwaway PostgreSQL, engine comparison, peer-case converters, Spark raw tables."""

"""Python-task steps of the ETL example; dagmake runs them as `pipeline.<module>:<function>`."""

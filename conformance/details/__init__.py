"""The typed readers of a check's ``details``: ``biometrics`` holds those of a 1:1 run's checks."""

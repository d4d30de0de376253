"""Summary → questions → answers → spans → selection: pure step functions and one async driver."""

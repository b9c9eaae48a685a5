"""kit.batch: many investigations in parallel, the postmortem index, and the fleet scan."""

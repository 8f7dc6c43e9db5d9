"""One migrations module per case of the stall benchmark's Django tier."""

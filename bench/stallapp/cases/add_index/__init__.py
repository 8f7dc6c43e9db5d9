"""Case add_index of bench/stall.py's Django tier."""

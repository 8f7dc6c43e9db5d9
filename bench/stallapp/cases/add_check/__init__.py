"""Case add_check of bench/stall.py's Django tier."""

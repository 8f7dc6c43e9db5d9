"""Case add_check_not_valid of bench/stall.py's Django tier."""

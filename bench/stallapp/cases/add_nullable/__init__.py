"""Case add_nullable of bench/stall.py's Django tier."""

"""Case add_index_concurrently of bench/stall.py's Django tier."""

"""Case add_db_default of bench/stall.py's Django tier."""
